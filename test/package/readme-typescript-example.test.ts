import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { getOrders } from "../fixtures/readme-orders-tool.js";

const root = new URL("../../", import.meta.url);

/** The README's "Use it from TypeScript" section. */
async function section(): Promise<string> {
  const readme = await readFile(new URL("README.md", root), "utf8");
  const start = readme.indexOf("## Use it from TypeScript");
  assert.ok(start >= 0, "README has a TypeScript section");
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

function block(text: string, language: string): string {
  const match = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(text);
  assert.ok(match?.[1], `a ${language} block`);
  return match[1];
}

describe("README: Use it from TypeScript", () => {
  test("the example's get_orders is the fixture's, which typechecks with its handler typed by the zod schemas", async () => {
    const fixture = await readFile(new URL("test/fixtures/readme-orders-tool.ts", root), "utf8");
    const match = /\/\/ README:start\n([\s\S]*?)\n+\/\/ README:end/.exec(fixture);
    assert.ok(match?.[1]);
    const code = block(await section(), "ts");
    assert.ok(code.includes(match[1]), `README's example differs from the fixture:\n${match[1]}`);
    assert.ok(code.includes('import { z } from "zod";'));
    assert.ok(fixture.includes('import { z } from "zod";'));
  });

  test("the stubs it shows are what the registry renders for that definition", async () => {
    const shown = block(await section(), "python");
    const stubs = ToolRegistry.from([getOrders]).pythonStubs();
    assert.ok(stubs.includes(shown), `rendered:\n${stubs}`);
    assert.match(shown, /async def get_orders\(\*, region: str\) -> list\[GetOrdersResultItem\]:/);
  });
});
