import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliOutcome, runCli } from "../helpers/cli.js";

// Runs bin/ptc.js, which runs dist/: `npm run build` first.
//
// Without `ptc setup`, sandboxes would run on the host's Node 20: PTC_SANDBOX_NODE pointing at it stands in
// for that, and a fresh PTC_CACHE_DIR keeps the real cache (and its snapshots) out of it.

// Where `ptc setup` has a pinned sandbox Node to install (elsewhere ptc runs on what it has, with a warning).
const setupCanInstall = process.platform === "linux" && ["x64", "arm64"].includes(process.arch);
const degradedHere = Number(process.versions.node.split(".")[0]) < 25 && setupCanInstall;
let directory = "";
before(async () => {
  directory = await mkdtemp(join(tmpdir(), "ptc-cli-degraded-"));
});
after(() => rm(directory, { recursive: true, force: true }));

function ptc(args: readonly string[]): Promise<CliOutcome> {
  return runCli(args, {
    env: { ...process.env, PTC_SANDBOX_NODE: process.execPath, PTC_CACHE_DIR: join(directory, "cache") },
  });
}

async function script(name: string, lines: readonly string[]): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, lines.join("\n"));
  return path;
}

const REFUSAL =
  /^ptc: sandboxes would run on PTC_SANDBOX_NODE's Node v20\.[\d.]+, without a permission model that covers the network or asyncio\.run\(\): run `npx ptc setup` to install the sandbox runtime \(Node [\d.]+\), or accept the weaker isolation with --allow-degraded-isolation/;
const WARNING = /^ptc: warning: weaker isolation: sandboxes run on PTC_SANDBOX_NODE's Node v20.*run `npx ptc setup`/;

describe("ptc run/serve/mcp on a runtime weaker than `ptc setup`'s", { skip: !degradedHere }, () => {
  test("`ptc run` refuses in one line naming `npx ptc setup` and the opt-in, and exits non-zero", async () => {
    const file = await script("answer.py", ["print(6 * 7)"]);
    const { stdout, stderr, exitCode } = await ptc(["run", "--no-sample", file]);
    assert.equal(exitCode, 1);
    assert.equal(stdout, "");
    const lines = stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0] ?? "", REFUSAL);
  });

  test("`ptc serve` and `ptc mcp` refuse the same way, before opening anything", async () => {
    for (const args of [
      ["serve", "--port", "0"],
      ["mcp", "--no-sample"],
    ]) {
      const { stdout, stderr, exitCode } = await ptc(args);
      assert.equal(exitCode, 1, `${args[0]}: ${stderr}`);
      assert.equal(stdout, "");
      const lines = stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0] ?? "", REFUSAL);
    }
  });

  test("`ptc run --allow-degraded-isolation` runs the script, with one warning naming `npx ptc setup`", async () => {
    const file = await script("answer.py", ["print(6 * 7)"]);
    const { stdout, stderr, exitCode } = await ptc(["run", "--no-sample", "--allow-degraded-isolation", file]);
    assert.equal(exitCode, 0, stderr);
    assert.equal(stdout, "42\n");
    const warnings = stderr.split("\n").filter((line) => line.startsWith("ptc: warning:"));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0] ?? "", WARNING);
    assert.match(stderr, /── ptc · completed/);
  });

  test("asyncio.run() there fails with a message naming `npx ptc setup`", async () => {
    const file = await script("asyncio-run.py", [
      "import asyncio",
      "async def main():",
      "    return 1",
      "asyncio.run(main())",
    ]);
    const { stderr, exitCode } = await ptc(["run", "--no-sample", "--allow-degraded-isolation", file]);
    assert.notEqual(exitCode, 0);
    assert.match(stderr, /RuntimeError: asyncio\.run\(\) needs WebAssembly stack switching.*`npx ptc setup`/);
  });

  test("`ptc run --help` lists the opt-in", async () => {
    const { stdout, exitCode } = await ptc(["run", "--help"]);
    assert.equal(exitCode, 0);
    assert.match(stdout, /--allow-degraded-isolation\n\s+run sandboxes on this host's Node when `npx ptc setup`/);
  });
});
