import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadToolsModule } from "../../src/sources/load-tools-module.js";
import { runCli } from "../helpers/cli.js";

// These run bin/ptc.js, which runs dist/: `npm run build` first. The broken modules are written at run time
// (a syntax error in test/fixtures would fail the typecheck and the lint).

const MODULES: Readonly<Record<string, string>> = {
  "no-export.mjs": `export const tool = { name: "x", inputSchema: { type: "object" } };\nexport const helper = 1;\n`,
  "no-export.ts": `export const tool = { name: "x", inputSchema: { type: "object" } };\n`,
  "object-default.mjs": `export default { name: "x", inputSchema: { type: "object" } };\n`,
  "syntax.mjs": `export const tools = [\n  { name: "a",\n    oops oops\n];\n`,
  "syntax.ts": `export const tools: unknown[] = [\n  { name: "a",\n    oops oops\n];\n`,
  "imports-broken.mjs": `import "./syntax.mjs";\nexport const tools = [];\n`,
  "throws.mjs": `const url = process.env.NO_SUCH_VARIABLE_FOR_PTC;\nif (!url) throw new Error("DATABASE_URL is not set");\nexport const tools = [];\n`,
  "throws.ts": `const url: string | undefined = undefined;\nif (!url) throw new TypeError("DATABASE_URL is not set");\nexport const tools = [];\n`,
  "json-throws.mjs": `export const tools = JSON.parse("{oops");\n`,
  "function-throws.mjs": `export function tools() {\n  throw new Error("no credentials");\n}\n`,
};

describe("a tools module that cannot be used is one line naming it", () => {
  let directory = "";
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "ptc-tools-modules-"));
    for (const [name, text] of Object.entries(MODULES)) await writeFile(join(directory, name), text);
  });
  after(() => rm(directory, { recursive: true, force: true }));

  /** `ptc stubs --tools MODULE` (or `ptc run`) from the modules' directory: the exit code and its only stderr line. */
  async function refusal(args: readonly string[]): Promise<{ code: number; line: string }> {
    const { exitCode, stderr } = await runCli(args, { cwd: directory });
    assert.notEqual(exitCode, 0, `ptc ${args.join(" ")} succeeded`);
    const lines = stderr.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
    return { code: exitCode ?? -1, line: lines[0] ?? "" };
  }
  const stubs = (module: string) => refusal(["stubs", "--tools", module]);

  test("a missing module names the path as given and as resolved, not ptc's own file", async () => {
    const { code, line } = await stubs("./nope.mjs");
    assert.equal(code, 1);
    assert.equal(line, `ptc: tools module ./nope.mjs not found (${join(directory, "nope.mjs")})`);
    // The same from `ptc run` (the script is never read) and from a config file's `tools`.
    const script = join(directory, "script.py");
    await writeFile(script, "print(1)\n");
    assert.match(
      (await refusal(["run", "--tools", "lib/nope.ts", script])).line,
      /^ptc: tools module lib\/nope\.ts not found/,
    );
    const config = join(directory, "ptc.config.json");
    await writeFile(config, JSON.stringify({ tools: ["./gone.ts"] }));
    try {
      const fromConfig = await refusal(["stubs", "--config", config]);
      assert.equal(fromConfig.line, `ptc: tools module ./gone.ts not found (${join(directory, "gone.ts")})`);
    } finally {
      await rm(config);
    }
  });

  test("no `tools` or default export: what it exports and what it should", async () => {
    for (const module of ["./no-export.mjs", "./no-export.ts"]) {
      const { code, line } = await stubs(module);
      assert.equal(code, 1);
      assert.ok(line.startsWith(`ptc: tools module ${module} has no \`tools\` or default export`), line);
      assert.match(
        line,
        /\(it exports only (helper, )?tool\): export `tools` \(or a default export\): an array of tool/,
      );
    }
    assert.match(
      (await stubs("./object-default.mjs")).line,
      /^ptc: tools module \.\/object-default\.mjs: its default export is an object, not an array: export `tools`/,
    );
  });

  test("a syntax error names the file and the line, from Node's parser and from tsx", async () => {
    assert.equal(
      (await stubs("./syntax.mjs")).line,
      "ptc: tools module ./syntax.mjs has a syntax error at line 3: Unexpected identifier 'oops'",
    );
    assert.equal(
      (await stubs("./syntax.ts")).line,
      `ptc: tools module ./syntax.ts has a syntax error at line 3, column 9: Expected "}" but found "oops"`,
    );
    assert.match(
      (await stubs("./imports-broken.mjs")).line,
      /^ptc: tools module \.\/imports-broken\.mjs could not be loaded: a module it imports has a syntax error: /,
    );
  });

  test("an error thrown at import, or by its tools function, is named with the module", async () => {
    assert.equal(
      (await stubs("./throws.mjs")).line,
      "ptc: tools module ./throws.mjs failed while loading: DATABASE_URL is not set",
    );
    assert.equal(
      (await stubs("./throws.ts")).line,
      "ptc: tools module ./throws.ts failed while loading: TypeError: DATABASE_URL is not set",
    );
    // A SyntaxError the module's code throws is not a syntax error in the module.
    assert.match(
      (await stubs("./json-throws.mjs")).line,
      /^ptc: tools module \.\/json-throws\.mjs failed while loading: SyntaxError: .*JSON/,
    );
    assert.equal(
      (await stubs("./function-throws.mjs")).line,
      "ptc: tools module ./function-throws.mjs: its `tools` export, a function, threw: no credentials",
    );
  });

  test("the library function names the module the same way; the path is the label by default", async () => {
    await assert.rejects(loadToolsModule(join(directory, "nope.mjs")), {
      message: `tools module ${join(directory, "nope.mjs")} not found`,
    });
    await assert.rejects(loadToolsModule(join(directory, "syntax.mjs"), { label: "syntax.mjs" }), {
      message: "tools module syntax.mjs has a syntax error at line 3: Unexpected identifier 'oops'",
    });
  });
});
