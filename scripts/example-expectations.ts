// Regenerates test/fixtures/example-expectations.json: the exact stdout of each example, computed
// from the sample database. Run: node --import tsx scripts/example-expectations.ts
import { writeFileSync } from "node:fs";
import { expectedExampleOutputs } from "../test/helpers/example-expectations.js";

const target = new URL("../test/fixtures/example-expectations.json", import.meta.url);
writeFileSync(target, `${JSON.stringify(expectedExampleOutputs(), null, 2)}\n`);
process.stdout.write(`wrote ${target.pathname}\n`);
