import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { millisecondsFlag, parseArguments, resultModeFlag } from "../src/cli/arguments.js";
import { mcpCommand } from "../src/cli/mcp-command.js";
import { runCommand } from "../src/cli/run-command.js";

// The `ptc run` tests run bin/ptc.js, which runs dist/: `npm run build` first.

describe("`ptc run` reads the same config and flags", () => {
  const run = promisify(execFile);

  test("repeatable and optional-valued flags parse; other callers see the old shape", () => {
    const options = { repeatable: ["mcp"], optionalValue: ["http"] };
    const parsed = parseArguments(["--mcp", "a b", "--mcp=c", "--http", "--json"], [], ["json"], options);
    assert.deepEqual(parsed.lists.get("mcp"), ["a b", "c"]);
    assert.equal(parsed.flags.get("mcp"), "c");
    assert.equal(parsed.flags.get("http"), true);
    assert.equal(parseArguments(["--http", "9000"], [], [], options).flags.get("http"), "9000");
    assert.equal(parseArguments(["--http=0"], [], [], options).flags.get("http"), "0");
    assert.deepEqual(parseArguments(["x.py", "--tools", "m.ts"], ["tools"], []).positionals, ["x.py"]);
    assert.throws(() => parseArguments(["--mcp"], [], [], options), /--mcp needs a value/);
  });

  test("--config: the config's tools, and no sample tools", async () => {
    const directory = await mkdtemp(join(tmpdir(), "ptc-config-"));
    after(() => rm(directory, { recursive: true, force: true }));
    const config = join(directory, "ptc.config.json");
    await writeFile(config, JSON.stringify({ tools: [resolve("test/fixtures/user-tools.ts")] }));
    const { stdout } = await run(process.execPath, [
      "bin/ptc.js",
      "run",
      "--config",
      config,
      "test/fixtures/use-user-tools.py",
    ]);
    assert.equal(stdout, "HELLO, PTC\nFalse\nask_human has no handler in `ptc run`\n");
  });

  test("--mcp: an MCP server's tools, namespaced; a broken one is reported and skipped", async () => {
    const script = join(await mkdtemp(join(tmpdir(), "ptc-mcp-flag-")), "echo.py");
    after(() => rm(dirname(script), { recursive: true, force: true }));
    await writeFile(script, 'print(await everything__echo(message="hi"))\nprint("query_database" in globals())\n');
    const everything = "node node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio";
    const { stdout, stderr } = await run(process.execPath, [
      "bin/ptc.js",
      "run",
      "--mcp",
      everything,
      "--mcp",
      "broken=no-such-command-for-ptc",
      script,
    ]);
    assert.equal(stdout, "Echo: hi\nFalse\n");
    assert.match(stderr, /ptc: tool source broken: .* \(its tools are left out\)/);
  });
});

describe("flag values are checked before any tool source opens", () => {
  const parse = (argv: readonly string[]) => parseArguments(argv, ["result-mode", "timeout"], []);

  test("--result-mode is json or text; anything else is an error, not a silent json", async () => {
    assert.equal(resultModeFlag(parse([])), "json");
    assert.equal(resultModeFlag(parse(["--result-mode", "text"])), "text");
    assert.throws(
      () => resultModeFlag(parse(["--result-mode", "txt"])),
      /--result-mode must be json or text, got "txt"/,
    );
    // The script file does not exist: the flag is refused first.
    await assert.rejects(runCommand(["missing.py", "--result-mode", "txt"]), /--result-mode must be json or text/);
    await assert.rejects(mcpCommand(["--result-mode", "TEXT"]), /--result-mode must be json or text/);
  });

  test("--timeout is a whole number of milliseconds", async () => {
    assert.equal(millisecondsFlag(parse(["--timeout", "2500"]), "timeout"), 2500);
    assert.equal(millisecondsFlag(parse([]), "timeout"), undefined);
    for (const value of ["abc", "0", "1.5", "-3"]) {
      assert.throws(() => millisecondsFlag(parse([`--timeout=${value}`]), "timeout"), /--timeout needs a whole number/);
    }
    await assert.rejects(runCommand(["missing.py", "--timeout", "10s"]), /--timeout needs a whole number .* "10s"/);
  });
});
