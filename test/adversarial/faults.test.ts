import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, describe, test } from "node:test";
import { McpToolSource } from "../../src/sources/mcp/mcp-tool-source.js";
import { openToolSources } from "../../src/sources/tool-set.js";
import { delay } from "../helpers/engine.js";
import { processTree } from "../helpers/process-tree.js";
import {
  assertCompleted,
  assertFailedWith,
  assertNoHostLeak,
  type Harness,
  isAlive,
  startHarness,
  underAttack,
  type WireExecution,
} from "./harness.js";

/**
 * Faults: sandboxes killed from outside, WebAssembly traps, guests that end their own process, an MCP
 * tool server that dies mid-call. Each fails only its own execution with a structured error; the
 * container restarts clean, the pool refills, and everything else keeps running.
 */

/** A client tool: its call pauses the script, which is how a case knows the sandbox is mid-call. */
const BLOCK = { name: "block", description: "waits for the client", input_schema: { type: "object" } };

/**
 * A secret of the MCP server's own (not in ptc's environment, so no redaction of ptc's knows it), which
 * the server prints to its stderr as it crashes.
 */
const SERVER_TOKEN = `crashy-private-${process.pid}-${Date.now().toString(36)}`;
const mcp = new McpToolSource("crashy", {
  command: process.execPath,
  args: [resolve("test/fixtures/crashing-mcp-server.mjs")],
  env: { CRASHY_TOKEN: SERVER_TOKEN },
});
const toolSet = await openToolSources([mcp]);
assert.deepEqual(toolSet.failures, []);
after(() => toolSet.close());
const harness = await startHarness({ tools: [...toolSet.tools] });

/** kill -9 of a container's sandbox, deepest process first, as the OOM killer or an operator would. */
async function killSandbox(h: Harness, containerId: string): Promise<void> {
  const root = h.engine.inspectContainer(containerId)?.sandboxPid;
  assert.ok(root, "the container has a live sandbox");
  for (const pid of (await processTree(root)).reverse()) process.kill(pid, "SIGKILL");
}

async function pausedOnBlock(code: string, container?: string): Promise<WireExecution> {
  const state = await harness.execute({
    code,
    tools: [BLOCK],
    limits: { wall_timeout_ms: 20_000 },
    ...(container ? { container } : {}),
  });
  assert.equal(state.status, "paused", JSON.stringify(state.result?.error ?? state.status));
  return state;
}

/** Polls until the execution has finished (a GET with `wait` also answers as soon as it is paused). */
async function finalState(id: string): Promise<WireExecution> {
  const deadline = Date.now() + 20_000;
  let state = await harness.record(id);
  while (state.result === null && Date.now() < deadline) {
    await delay(50);
    state = await harness.record(id);
  }
  return state;
}

/** Nothing of the MCP server's stderr (its secret, its stack, its path) reached the script or the record. */
function assertNoServerStderr(text: string): void {
  assertNoHostLeak(text);
  assert.ok(!text.includes(SERVER_TOKEN), "the MCP server's secret leaked");
  assert.doesNotMatch(text, /crashing-mcp-server|crashing on purpose|Node\.js v/, "the MCP server's stderr leaked");
}

/** The warm pool is back to its target size (2, the harness's). */
async function assertPoolRefills(h: Harness): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (h.engine.stats().pool.warm < 2 && Date.now() < deadline) await delay(100);
  assert.equal(h.engine.stats().pool.warm, 2, "the warm pool refilled");
}

/** The next execution in a container whose sandbox died: it runs, on a fresh interpreter, and says so. */
async function assertFreshContainer(containerId: string): Promise<void> {
  const next = await harness.execute({ code: "print('state' in globals())", container: containerId });
  const result = await assertCompleted(harness, next);
  assert.equal(result.stdout, "False\n");
  assert.equal(result.container_reset, true);
}

describe("faults: sandboxes that die", () => {
  // Protection: the execution maps the sandbox's unexpected exit to `sandbox_crashed`, discards the
  // sandbox, and the container manager leases the container a new one marked `reset`.
  test("kill -9 of the sandbox mid-call: sandbox_crashed, the container restarts clean, the pool refills", async () => {
    await underAttack(harness, async () => {
      const seeded = await harness.execute({ code: "state = 'kept'" });
      await assertCompleted(harness, seeded);
      const paused = await pausedOnBlock("await block()\nprint('never')", seeded.container_id);
      await killSandbox(harness, seeded.container_id);
      const crashed = await assertFailedWith(harness, await finalState(paused.id), "sandbox_crashed");
      assert.doesNotMatch(crashed.stdout, /never/);
      // The call the client was about to answer is settled: a late answer is harmless.
      const callId = paused.pending_tool_calls[0]?.id as string;
      const late = await harness.request("POST", `/v1/executions/${paused.id}/tool_results`, {
        results: [{ call_id: callId, content: 1 }],
      });
      assert.equal(late.status, 200);
      assert.equal((late.json as { submitted: Array<{ status: string }> }).submitted[0]?.status, "duplicate");
      await assertFreshContainer(seeded.container_id);
      await assertPoolRefills(harness);
    });
  });

  /**
   * Runs each crash in turn in one container, checking every one fails structured: `sandbox_crashed`
   * (the child died; the next execution must find the container reset) or a `python_error` (the guest
   * runtime caught it; the sandbox is kept). Then the container runs clean code again.
   */
  async function crashInTurn(crashes: ReadonlyArray<readonly [string, string]>): Promise<string> {
    let container: string | undefined;
    let crashed = false;
    for (const [what, code] of crashes) {
      const state = await harness.execute({
        code: `print('before')\n${code}\nprint('after')`,
        limits: { wall_timeout_ms: 10_000 },
        ...(container ? { container } : {}),
      });
      container = state.container_id;
      const code_ = state.result?.error?.code ?? "";
      assert.ok(["sandbox_crashed", "python_error"].includes(code_), `${what}: structured, got ${code_}`);
      const result = await assertFailedWith(harness, state, code_);
      assert.doesNotMatch(result.stdout, /after/, what);
      assert.equal(result.container_reset, crashed, `${what}: a fresh sandbox exactly after a crash`);
      crashed = code_ === "sandbox_crashed";
    }
    const next = await harness.execute({ code: "print('alive')", container: container as string });
    const result = await assertCompleted(harness, next);
    assert.equal(result.stdout, "alive\n");
    assert.equal(result.container_reset, crashed);
    return container as string;
  }

  // Protection: as above; a null function pointer (`call_indirect` on a null table entry) or an access
  // past the linear memory traps the wasm, which ends the child: no hang, the container restarts clean.
  test("WebAssembly traps through ctypes: a structured failure, no hang, the container usable again", async () => {
    await underAttack(harness, async () => {
      await crashInTurn([
        ["a null function pointer", "import ctypes\nctypes.CFUNCTYPE(None)(0)()"],
        ["a read past the linear memory", "import ctypes\nctypes.string_at(0xFFFFFFF0, 8)"],
      ]);
      await assertPoolRefills(harness);
    });
  });

  // Protection: a guest that ends its own process gets the same `sandbox_crashed` path (or the guest
  // runtime's SystemExit handling): never a hang, never a host-side failure.
  test("a guest that ends its own process: a structured failure each time, the container usable again", async () => {
    await underAttack(harness, async () => {
      const container = await crashInTurn([
        ["os._exit()", "import os\nos._exit(3)"],
        [
          "SystemExit in an asyncio task",
          "import asyncio\nasync def quit():\n    raise SystemExit(3)\nasyncio.ensure_future(quit())\nawait asyncio.sleep(2)",
        ],
        [
          "sys.exit() in a tool call's done-callback",
          "import asyncio, sys\nf = asyncio.ensure_future(double(n=1))\nf.add_done_callback(lambda _: sys.exit(9))\nawait asyncio.sleep(2)",
        ],
      ]);
      // A plain sys.exit is the script's own ending: a python_error with its status, the sandbox kept.
      const exited = await harness.execute({ code: "import sys\nsys.exit(7)", container });
      const result = await assertFailedWith(harness, exited, "python_error");
      assert.equal(result.error?.type, "SystemExit");
      assert.equal((exited.result as unknown as { return_code: number }).return_code, 7);
      const next = await harness.execute({ code: "print('alive')", container });
      assert.equal((await assertCompleted(harness, next)).container_reset, false);
    });
  });

  // Protection: the guest runtime gives each run fresh output streams (guest.py): nothing buffered after a
  // closed fd 1 is carried into the next execution's result, and a closed sys.stdout breaks only its own run.
  test("a guest that closes its own output streams: a structured failure, the next execution prints only its own output", async () => {
    await underAttack(harness, async () => {
      await crashInTurn([["fd 1 and 2 closed", "import os\nos.close(1)\nos.close(2)\nprint('into the void')"]]);
      await crashInTurn([["sys.stdout closed", "import sys\nsys.stdout.close()"]]);
    });
  });

  // Protection: each dead sandbox is discarded and replaced; the pool never counts a dead one as warm.
  test("three sandboxes killed in a row: all three crash cleanly, new executions succeed, the pool refills", async () => {
    await underAttack(harness, async () => {
      const paused = await Promise.all([0, 1, 2].map(() => pausedOnBlock("await block()")));
      for (const state of paused) await killSandbox(harness, state.container_id);
      for (const state of paused) await assertFailedWith(harness, await finalState(state.id), "sandbox_crashed");
      // Each container gets a new sandbox of its own and runs again.
      const next = await Promise.all(
        paused.map((state, n) => harness.execute({ code: `print(${n} * 7)`, container: state.container_id })),
      );
      for (const [n, state] of next.entries()) {
        const result = await assertCompleted(harness, state);
        assert.equal(result.stdout, `${n * 7}\n`);
        assert.equal(result.container_reset, true);
      }
      await assertPoolRefills(harness);
    });
  });
});

/** Prints each call's value, or its ToolError's code and message. */
const ATTEMPT = [
  "async def attempt(call):",
  "    try:",
  "        print('ok', await call)",
  "    except ToolError as error:",
  "        print('error', error.code, str(error))",
].join("\n");

describe("faults: an MCP tool server that dies mid-call", () => {
  // Protection: McpToolSource turns a session closed by the peer into a ToolError naming the server
  // (without the server's stderr, which may hold secrets and host paths), restarts it once on the next
  // call, and leaves the source failed after a second crash; Node reaps each dead server.
  test("crash, restart once, crash again: ToolErrors naming the server, no zombie, nothing leaked", async () => {
    await underAttack(harness, async () => {
      const firstPid = mcp.pid as number;
      assert.ok(firstPid > 0);
      const code = `${ATTEMPT}\nawait attempt(crashy__crash())\nawait attempt(crashy__echo(message='back'))`;
      const first = await harness.execute({ code, limits: { wall_timeout_ms: 20_000 } });
      const result = await assertCompleted(harness, first);
      assertNoServerStderr(JSON.stringify(result));
      const [crashLine, echoLine] = result.stdout.trimEnd().split("\n");
      assert.match(crashLine ?? "", /^error tool_error MCP server "crashy" exited during the call to crash/);
      assert.match(echoLine ?? "", /^ok echo: back from \d+$/);
      assert.equal(result.tool_calls[0]?.error?.code, "tool_error");
      const secondPid = mcp.pid as number;
      assert.ok(secondPid > 0 && secondPid !== firstPid, "restarted once");
      assert.ok(!isAlive(firstPid), "the crashed server was reaped, not left a zombie");

      // A second crash, by kill -9 during a slow call: the source stays failed, naming the server.
      const second = harness.execute({
        code: `${ATTEMPT}\nawait attempt(crashy__slow(ms=20000))\nawait attempt(crashy__echo(message='x'))`,
        limits: { wall_timeout_ms: 20_000 },
      });
      const deadline = Date.now() + 10_000;
      while (!mcp.stderr.includes("slow: started") && Date.now() < deadline) await delay(20);
      assert.ok(mcp.stderr.includes("slow: started"), "the slow call reached the server");
      process.kill(secondPid, "SIGKILL");
      const again = await assertCompleted(harness, await second);
      assertNoServerStderr(JSON.stringify(again));
      const [slowLine, failedLine] = again.stdout.trimEnd().split("\n");
      assert.match(slowLine ?? "", /^error tool_error MCP server "crashy" exited again during the call to slow/);
      // The source stays failed: the next call fails at once, naming the server, no third start.
      assert.match(failedLine ?? "", /^error tool_error MCP server "crashy" exited again .*its tools are unavailable$/);
      const deadlineReap = Date.now() + 5_000;
      while (isAlive(secondPid) && Date.now() < deadlineReap) await delay(20);
      assert.ok(!isAlive(secondPid), "the killed server was reaped");
      assert.equal(mcp.pid, null, "no third server was started");
      await toolSet.close();
    });
  });
});
