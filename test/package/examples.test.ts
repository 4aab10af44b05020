import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, describe, test } from "node:test";
import { createSampleTools } from "../../src/sample/index.js";
import { runCli, runCliOk } from "../helpers/cli.js";
import { testEngine } from "../helpers/engine.js";
import { EXAMPLE_PATHS, expectedCheckedEndpoints, expectedExampleOutputs } from "../helpers/example-expectations.js";

const engine = testEngine({ tools: createSampleTools() });
after(() => engine.close());
const expected = expectedExampleOutputs();

describe("examples run in the sandbox and print what the data says", () => {
  // Hosted-style scripts (json.loads on every result) also run in text mode, as on Anthropic's API.
  const hostedStyle = new Set<string>([
    "examples/filtering/error-logs.py",
    "examples/early-termination/first-healthy.py",
  ]);
  for (const path of EXAMPLE_PATHS) {
    for (const resultMode of hostedStyle.has(path) ? (["json", "text"] as const) : (["json"] as const)) {
      test(`${path} (${resultMode} results)`, async () => {
        const code = await readFile(path, "utf8");
        const result = await engine.execute({ code, resultMode }).result;
        assert.equal(result.error, null, JSON.stringify(result.error));
        assert.equal(result.stdout, expected[path]);
        assert.ok(result.toolCalls.length > 0 && result.toolCalls.every((call) => call.ok));
        assert.ok(result.contextSavings.toolResultBytes > 0);
      });
    }
  }

  test("early termination never calls the endpoints after the first healthy one", async () => {
    const code = await readFile("examples/early-termination/first-healthy.py", "utf8");
    const result = await engine.execute({ code }).result;
    const called = result.toolCalls.map((call) => call.input.url);
    assert.deepEqual(called, expectedCheckedEndpoints());
    assert.ok(called.length < 5);
  });

  test("filtering keeps 10,000 log entries out of context and prints only the errors", async () => {
    const code = await readFile("examples/filtering/error-logs.py", "utf8");
    const result = await engine.execute({ code }).result;
    assert.ok(result.contextSavings.toolResultBytes > 500_000, String(result.contextSavings.toolResultBytes));
    assert.ok(result.contextSavings.toolResultTokens > 10 * result.contextSavings.outputTokens);
  });

  test("batch issues 50 region queries concurrently", async () => {
    const code = await readFile("examples/batch/fifty-regions.py", "utf8");
    const result = await engine.execute({ code }).result;
    assert.ok(result.toolCalls.length >= 50);
  });
});

describe("the ptc CLI", () => {
  test("`ptc run` prints the script's output and a summary", async () => {
    const { stdout, stderr } = await runCliOk(["run", "examples/sales/top-region.py"]);
    assert.equal(stdout, expected["examples/sales/top-region.py"]);
    assert.match(stderr, /── ptc · completed · 5 tool calls/);
    assert.match(stderr, /kept out of context: .* of tool results \(\d+ tokens\)/);
    assert.match(stderr, /isolation: (namespaces|permission-model|process)/);
  });

  test("`ptc run --json` prints the full result", async () => {
    const { stdout } = await runCliOk(["run", "--json", "examples/filtering/error-logs.py"]);
    const result = JSON.parse(stdout) as { status: string; toolCalls: unknown[]; stdout: string };
    assert.equal(result.status, "completed");
    assert.equal(result.stdout, expected["examples/filtering/error-logs.py"]);
    assert.equal(result.toolCalls.length, 1);
  });

  test("`ptc run --tools` loads the user's own TypeScript tools", async () => {
    const { stdout } = await runCliOk([
      "run",
      "--no-sample",
      "--tools",
      "test/fixtures/user-tools.ts",
      "test/fixtures/use-user-tools.py",
    ]);
    assert.equal(stdout, "HELLO, PTC\nFalse\nask_human has no handler in `ptc run`\n");
  });

  test("a failing script exits non-zero with its traceback", async () => {
    const { exitCode, stderr } = await runCli(["run", "--no-sample", "test/fixtures/fails.py"]);
    assert.equal(exitCode, 1);
    assert.match(stderr, /File "script.py", line 2/);
    assert.match(stderr, /ZeroDivisionError/);
  });

  test("`ptc stubs` prints compilable stubs of the sample tools", async () => {
    const { stdout } = await runCliOk(["stubs"]);
    assert.match(stdout, /async def query_database\(\*, sql: str\) -> list\[dict\]:/);
    assert.match(stdout, /class GetFileInfoResult\(TypedDict\):/);
    const compiled = await engine.execute({
      code: `compile(${JSON.stringify(stdout)}, "stubs.py", "exec")\nprint("ok")`,
    }).result;
    assert.equal(compiled.stdout, "ok\n");
  });

  test("`ptc doctor` reports the isolation in force", async () => {
    const { stdout } = await runCliOk(["doctor", "--json"]);
    const report = JSON.parse(stdout) as {
      check: string;
      isolation: { level: string };
      python: string;
      probes: Record<string, string>;
      security: { threatModel: string; layers: Array<{ name: string; inForce: boolean }>; notProtected: string[] };
    };
    assert.equal(report.check, "ok");
    // The threat statement for this machine: every layer named, with whether it is in force here.
    assert.match(report.security.threatModel, /untrusted/);
    assert.equal(report.security.layers.length, 6);
    assert.ok(report.security.notProtected.some((item) => /kernel/.test(item)));
    assert.equal(Object.keys(report.probes).length, 7);
    assert.deepEqual(new Set(Object.values(report.probes)), new Set(["blocked"]));
    assert.match(report.python, /^3\.\d+\.\d+$/);
    assert.ok(["namespaces", "permission-model", "process"].includes(report.isolation.level));
  });
});
