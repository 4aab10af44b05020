import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { millisecondsFlag, parseArguments, resultModeFlag } from "../../src/cli/arguments.js";
import { mcpCommand } from "../../src/cli/mcp-command.js";
import { runCommand } from "../../src/cli/run-command.js";
import { runCli, runCliOk } from "../helpers/cli.js";

// The `ptc run` tests run bin/ptc.js, which runs dist/: `npm run build` first.

describe("`ptc run` reads the same config and flags", () => {
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
    const { stdout } = await runCliOk(["run", "--config", config, "test/fixtures/use-user-tools.py"]);
    assert.equal(stdout, "HELLO, PTC\nFalse\nask_human has no handler in `ptc run`\n");
  });

  test("--mcp: an MCP server's tools, namespaced; a broken one is reported and skipped", async () => {
    const script = join(await mkdtemp(join(tmpdir(), "ptc-mcp-flag-")), "echo.py");
    after(() => rm(dirname(script), { recursive: true, force: true }));
    await writeFile(script, 'print(await everything__echo(message="hi"))\nprint("query_database" in globals())\n');
    const everything = "node node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio";
    const { stdout, stderr } = await runCliOk([
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

describe("the built-in sample is the default only while no tools are named", () => {
  const stubs = async (args: readonly string[], cwd = process.cwd()) =>
    (await runCliOk(["stubs", ...args], { cwd })).stdout;

  test("--tools leaves it out, --sample adds it back, nothing named keeps it", async () => {
    const mine = await stubs(["--tools", "test/fixtures/user-tools.ts"]);
    assert.match(mine, /async def shout\(/);
    assert.doesNotMatch(mine, /query_database|read_file|fetch_logs/);
    const both = await stubs(["--tools", "test/fixtures/user-tools.ts", "--sample"]);
    assert.match(both, /async def shout\(/);
    assert.match(both, /async def query_database\(/);
    assert.match(await stubs([]), /async def query_database\(/);
  });

  test("a config that names tool sources leaves it out; one that names none keeps it", async () => {
    const directory = await mkdtemp(join(tmpdir(), "ptc-sample-default-"));
    after(() => rm(directory, { recursive: true, force: true }));
    const config = join(directory, "ptc.config.json");
    // Unreachable: reported and left out; what matters is that the config names a source.
    await writeFile(
      config,
      JSON.stringify({ toolServers: { down: { url: "http://127.0.0.1:9", connectTimeoutMs: 2000 } } }),
    );
    assert.doesNotMatch(await stubs(["--config", config]), /query_database/);
    await writeFile(config, JSON.stringify({ limits: { wallTimeoutMs: 60_000 } }));
    assert.match(await stubs([], directory), /async def query_database\(/);
    await writeFile(config, JSON.stringify({ limits: { wallTimeoutMs: 60_000 }, sample: false }));
    assert.doesNotMatch(await stubs([], directory), /query_database/);
  });

  test("without better-sqlite3, asking for the sample fails in one line; other tools still load", async () => {
    // An install whose better-sqlite3 has no native build (its compile failed), then one without the package.
    const root = await mkdtemp(join(tmpdir(), "ptc-no-sqlite-"));
    after(() => rm(root, { recursive: true, force: true }));
    await cp("dist", join(root, "dist"), { recursive: true });
    await cp("bin", join(root, "bin"), { recursive: true });
    await cp("package.json", join(root, "package.json"));
    await mkdir(join(root, "node_modules"));
    for (const name of await readdir("node_modules")) {
      if (name !== "better-sqlite3") await symlink(resolve("node_modules", name), join(root, "node_modules", name));
    }
    const sqlite = join(root, "node_modules", "better-sqlite3");
    await cp("node_modules/better-sqlite3/lib", join(sqlite, "lib"), { recursive: true });
    await cp("node_modules/better-sqlite3/package.json", join(sqlite, "package.json"));
    const mine = join(root, "mine.mjs");
    await writeFile(
      mine,
      `export const tools = [{ name: "greet", inputSchema: { type: "object" }, allowedCallers: ["code_execution"], handler: () => "hi" }];\n`,
    );
    const bin = join(root, "bin/ptc.js");
    const refused = async (args: readonly string[], reason: RegExp) => {
      const { exitCode, stderr } = await runCli(["stubs", ...args], { bin });
      assert.equal(exitCode, 1);
      const lines = stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, stderr);
      // The wording may be the sample loader's own (a more precise hint) or the CLI's wrapper of better-sqlite3's own error.
      assert.match(lines[0] ?? "", /^ptc: the built-in sample needs better-sqlite3/);
      assert.match(lines[0] ?? "", reason);
    };
    await refused([], /bindings file/);
    await refused(["--tools", mine, "--sample"], /bindings/);
    assert.match((await runCliOk(["stubs", "--tools", mine], { bin })).stdout, /async def greet\(/);
    await rm(sqlite, { recursive: true });
    await refused([], /npm install better-sqlite3/);
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
