import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import { PtcError } from "../../src/protocol/errors.js";
import type { ExecutionEvent } from "../../src/protocol/execution.js";
import type { ToolCallContext } from "../../src/protocol/tool.js";
import { codeTool, testEngine } from "../helpers/engine.js";

const engine = testEngine();
after(() => engine.close());

/** A handler that runs until its signal aborts, noting when that happened. */
function abortable() {
  const aborts: Array<{ at: number; reason: unknown }> = [];
  let started = 0;
  const tool = codeTool("slow_tool", (_input, context: ToolCallContext) => {
    started++;
    return new Promise((_resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the test's slow tool was never aborted")), 60_000);
      context.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        aborts.push({ at: performance.now(), reason: context.signal.reason });
        reject(new Error("aborted"));
      });
    });
  });
  return { tool, aborts, started: () => started };
}

// Each script gives up on one call, then keeps running for a while: the abort must come before it ends.
const GIVING_UP: Record<string, string> = {
  "asyncio.wait_for": [
    "import asyncio",
    "try:",
    "    await asyncio.wait_for(slow_tool(), timeout=0.2)",
    "except TimeoutError:",
    "    print('gave up')",
  ].join("\n"),
  "task.cancel()": [
    "import asyncio",
    "task = asyncio.create_task(slow_tool())",
    "await asyncio.sleep(0.2)",
    "task.cancel()",
    "try:",
    "    await task",
    "except asyncio.CancelledError:",
    "    print('gave up')",
  ].join("\n"),
  "a TaskGroup that aborts": [
    "import asyncio",
    "async def fails():",
    "    await asyncio.sleep(0.2)",
    "    raise ValueError('boom')",
    "try:",
    "    async with asyncio.TaskGroup() as group:",
    "        group.create_task(slow_tool())",
    "        group.create_task(fails())",
    "except* ValueError:",
    "    print('gave up')",
  ].join("\n"),
  // The gather cancels the call itself (a future, guest_calls.py SentToolCall.cancel), not a task awaiting it.
  "a gather that times out": [
    "import asyncio",
    "try:",
    "    await asyncio.wait_for(asyncio.gather(slow_tool()), timeout=0.2)",
    "except TimeoutError:",
    "    print('gave up')",
  ].join("\n"),
  "asyncio.timeout": [
    "import asyncio",
    "try:",
    "    async with asyncio.timeout(0.2):",
    "        await slow_tool()",
    "except TimeoutError:",
    "    print('gave up')",
  ].join("\n"),
};

describe("engine: a call the script gives up on is cancelled on the host", () => {
  for (const [how, script] of Object.entries(GIVING_UP)) {
    test(`${how}: the handler's signal aborts at once, the call is recorded as cancelled`, async () => {
      const { tool, aborts } = abortable();
      const execution = engine.execute({
        code: `${script}\nawait asyncio.sleep(1.0)\nprint('still running')`,
        tools: [tool],
      });
      const events: ExecutionEvent[] = [];
      for await (const event of execution) events.push(event);
      const ended = performance.now();
      const result = await execution.result;
      assert.equal(result.error, null, JSON.stringify(result.error));
      assert.equal(result.stdout, "gave up\nstill running\n");
      assert.equal(aborts.length, 1);
      // Aborted while the script still ran (its last second), not when the execution ended.
      assert.ok(ended - (aborts[0]?.at ?? ended) > 500, `aborted ${ended - (aborts[0]?.at ?? 0)} ms before the end`);
      assert.ok(PtcError.is(aborts[0]?.reason, "cancelled"));
      const call = result.toolCalls[0];
      assert.equal(call?.outcome, "cancelled");
      assert.equal(call?.ok, false);
      assert.equal(call?.error?.code, "cancelled");
      const settled = events.find((event) => event.type === "tool-result");
      assert.ok(settled && settled.type === "tool-result" && !settled.outcome.ok);
      assert.equal(settled.outcome.ok ? "" : settled.outcome.error.code, "cancelled");
      assert.deepEqual(
        execution.journal().map((entry) => entry.type),
        ["execution-start", "tool-call", "tool-result", "execution-end"],
      );
    });
  }

  test("a paused call the script gave up on is withdrawn: its late result is an unknown call", async () => {
    const ask = codeTool("ask_human");
    const execution = engine.execute({
      code: [
        "import asyncio",
        "try:",
        "    await asyncio.wait_for(ask_human(q='ok?'), timeout=0.3)",
        "except TimeoutError:",
        "    print('no answer')",
        "await asyncio.sleep(0.5)",
        "print(await ask_human(q='second'))",
      ].join("\n"),
      tools: [ask],
    });
    const pendingIds: string[] = [];
    for await (const event of execution) {
      if (event.type === "tool-call" && event.pending) pendingIds.push(event.call.id);
      if (event.type === "tool-call" && event.pending && event.call.input.q === "second") {
        const first = pendingIds[0] ?? "";
        assert.equal(execution.pendingToolCalls().length, 1);
        assert.throws(
          () => execution.submitToolResult(first, { value: "late" }),
          (error: unknown) => PtcError.is(error, "unknown_tool_call"),
        );
        execution.submitToolResult(event.call.id, { value: "answered" });
      }
    }
    const result = await execution.result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "no answer\nanswered\n");
    assert.deepEqual(
      result.toolCalls.map((call) => call.outcome),
      ["cancelled", "ok"],
    );
    // After the end, too: the withdrawn call stays unknown.
    assert.throws(
      () => execution.submitToolResult(pendingIds[0] ?? "", { value: "late" }),
      (error: unknown) => PtcError.is(error, "unknown_tool_call"),
    );
  });

  test("a call waiting for a concurrency slot is cancelled before its handler ever starts", async () => {
    const { tool, started } = abortable();
    const result = await engine.execute({
      code: [
        "import asyncio",
        "first = asyncio.create_task(slow_tool())",
        "await asyncio.sleep(0.1)",
        "try:",
        "    await asyncio.wait_for(slow_tool(), timeout=0.2)",
        "except TimeoutError:",
        "    print('gave up on the queued one')",
        "first.cancel()",
        "await asyncio.sleep(0.2)",
      ].join("\n"),
      tools: [tool],
      limits: { maxConcurrentToolCalls: 1 },
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "gave up on the queued one\n");
    assert.equal(started(), 1);
    assert.deepEqual(
      result.toolCalls.map((call) => call.outcome),
      ["cancelled", "cancelled"],
    );
  });

  test("a script cannot cancel what it never started: forged cancels through the bridge are ignored", async () => {
    const echo = codeTool("echo", (input) => input);
    const result = await engine.execute({
      code: [
        "import js",
        "cancel = ToolError.__init__.__globals__['_bridge_cancel']",
        "for forged in (None, 0, -1, 10**6, 2.5, 'x', js.Object.new()):",
        "    cancel(forged)",
        "print(await echo(a=1))",
      ].join("\n"),
      tools: [echo],
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "{'a': 1}\n");
    assert.deepEqual(
      result.toolCalls.map((call) => call.outcome),
      ["ok"],
    );
  });
});

describe("engine: nothing of an execution is left on the event loop", () => {
  test("after close(), the active resources are back to the baseline and the process exits by itself", async () => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/engine-leftovers.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
    });
    const [code] = (await once(child, "exit")) as [number | null];
    const exitedAt = performance.now() - started;
    assert.equal(code, 0);
    const report = JSON.parse(output) as { stdout: string[]; baseline: string[]; after: string[]; closedAt: number };
    assert.deepEqual(report.stdout, ["gave up\ngave up again\n", "gave up\ngave up again\n"]);
    assert.deepEqual([...report.after].sort(), [...report.baseline].sort());
    // The child's clock started a little after ours: its exit came well within a second of close().
    assert.ok(exitedAt - report.closedAt < 1_000, `exited ${exitedAt - report.closedAt} ms after close()`);
  });
});
