import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { collectOutput, PTC_BIN, runCli, runCliOk } from "../helpers/cli.js";

// These run bin/ptc.js, which runs dist/: `npm run build` first.

const COUNT = "SELECT COUNT(*) AS n FROM orders";
const SCRIPTS = {
  "count.py": `rows = await query_database(sql="${COUNT}")\nprint("orders:", rows[0]["n"])`,
  "count.js": `const rows = await tools.query_database({ sql: "${COUNT}" });\nconsole.log("orders: " + rows[0].n);`,
  "count.mjs": `const rows = await tools.query_database({ sql: "${COUNT}" });\nconsole.log("orders: " + rows[0].n);`,
  "count.ts": `type Row = { n: number };\nconst rows = (await tools.query_database({ sql: "${COUNT}" })) as Row[];\nconsole.log("orders: " + rows[0]!.n);`,
  // A Python script under a JavaScript name, to see --language win over the extension.
  "python-inside.js": `rows = await query_database(sql="${COUNT}")\nprint("orders:", rows[0]["n"])`,
};

let directory: string;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), "ptc-language-"));
  for (const [name, code] of Object.entries(SCRIPTS)) await writeFile(join(directory, name), code);
});
after(() => rm(directory, { recursive: true, force: true }));

/** `ptc run ARGS` with `input` on stdin. */
async function runWithStdin(
  args: readonly string[],
  input: string,
): Promise<{ stdout: string; exitCode: number | null }> {
  const child = spawn(process.execPath, [PTC_BIN, "run", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const output = collectOutput(child);
  child.stdin.end(input);
  const exitCode = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { stdout: output.stdout(), exitCode };
}

describe("`ptc stubs --language`", () => {
  test("python (the default) prints Python stubs; javascript and typescript print TypeScript declarations", async () => {
    const python = await runCliOk(["stubs"]);
    assert.match(python.stdout, /async def query_database\(\*, sql: str\)/);
    assert.equal((await runCliOk(["stubs", "--language", "python"])).stdout, python.stdout);
    const typescript = await runCliOk(["stubs", "--language", "typescript"]);
    assert.match(typescript.stdout, /^declare const tools: \{$/m);
    assert.match(typescript.stdout, /^ {2}query_database\(args: \{$/m);
    assert.match(typescript.stdout, /^declare function text\(\.\.\.values: unknown\[\]\): void;$/m);
    assert.equal((await runCliOk(["stubs", "--language=javascript"])).stdout, typescript.stdout);
    const text = await runCliOk(["stubs", "--language", "typescript", "--result-mode", "text"]);
    assert.match(text.stdout, /query_database\(args: \{[\s\S]*?\}\): Promise<string>;/);
  });

  test("an unknown language is refused with the accepted ones", async () => {
    const outcome = await runCli(["stubs", "--language", "ruby"]);
    assert.equal(outcome.exitCode, 1);
    assert.equal(outcome.stdout, "");
    assert.equal(outcome.stderr, 'ptc: --language must be one of python, javascript, typescript, got "ruby"\n');
  });
});

describe("`ptc run` picks the language", () => {
  test("an unknown --language is refused before anything runs", async () => {
    const outcome = await runCli(["run", "--language", "cobol", join(directory, "count.py")]);
    assert.equal(outcome.exitCode, 1);
    assert.equal(outcome.stderr, 'ptc: --language must be one of python, javascript, typescript, got "cobol"\n');
  });

  test("from the extension: .py, .js, .mjs and .ts", async () => {
    for (const name of ["count.py", "count.js", "count.mjs", "count.ts"]) {
      const { stdout } = await runCliOk(["run", join(directory, name)]);
      assert.equal(stdout, "orders: 20000\n", name);
    }
  });

  test("--language overrides the extension, and says what stdin holds", async () => {
    const { stdout } = await runCliOk(["run", "--language", "python", join(directory, "python-inside.js")]);
    assert.equal(stdout, "orders: 20000\n");
    const javascript = await runWithStdin(["--language", "javascript", "-"], SCRIPTS["count.js"]);
    assert.deepEqual(javascript, { stdout: "orders: 20000\n", exitCode: 0 });
    const python = await runWithStdin(["-"], SCRIPTS["count.py"]);
    assert.deepEqual(python, { stdout: "orders: 20000\n", exitCode: 0 });
  });

  test("--json reports the run of a TypeScript file", async () => {
    const { stdout } = await runCliOk(["run", "--json", join(directory, "count.ts")]);
    const result = JSON.parse(stdout) as { status: string; stdout: string; toolCalls: unknown[] };
    assert.deepEqual([result.status, result.stdout, result.toolCalls.length], ["completed", "orders: 20000\n", 1]);
  });
});

describe("`ptc mcp` over stdio: execute_code in JavaScript", () => {
  test("a javascript script runs over the sample tools", async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [PTC_BIN, "mcp"], stderr: "pipe" });
    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.match(tools[0]?.description ?? "", / {2}query_database\(args: \{/);
      const result = (await client.callTool({
        name: "execute_code",
        arguments: { code: SCRIPTS["count.js"], language: "javascript" },
      })) as CallToolResult;
      const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
      assert.match(text, /^orders: 20000\n\n\[ptc\] completed · return code 0 · 1 tool call · /);
    } finally {
      await client.close();
    }
  });
});
