import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { codeTool, delay, testEngine } from "../helpers/engine.js";
import { processTree } from "../helpers/process-tree.js";

const engine = testEngine({ pool: { size: 2 } });
after(() => engine.close());

describe("limits: each has its own stable code", () => {
  test("wall-clock timeout kills an infinite loop while another execution runs correctly beside it", async () => {
    const add = codeTool("add", (input) => Number(input.a) + Number(input.b));
    const looping = engine.execute({
      code: "while True:\n    pass",
      limits: { wallTimeoutMs: 2_000, activeTimeoutMs: 60_000 },
    });
    const beside = engine.execute({
      code: "total = 0\nfor i in range(20):\n    total = await add(a=total, b=i)\nprint(total)",
      tools: [add],
    });
    const [loopResult, besideResult] = await Promise.all([looping.result, beside.result]);
    assert.equal(loopResult.status, "failed");
    assert.equal(loopResult.error?.code, "wall_timeout");
    assert.equal(loopResult.error?.type, "TimeoutError");
    assert.ok(loopResult.limitsHit.includes("wall_timeout"));
    assert.ok(loopResult.timings.totalMs < 8_000, String(loopResult.timings.totalMs));
    assert.equal(besideResult.stdout, "190\n");
    assert.equal(besideResult.status, "completed");
  });

  test("time excluding tool waits: a C-level loop is killed, slow tools are not counted", async () => {
    const cLoop = await engine.execute({ code: "sum(range(10**13))", limits: { activeTimeoutMs: 1_000 } }).result;
    assert.equal(cLoop.error?.code, "active_timeout");
    // Killed soon after its deadline, counted on the deadline's own clock (the sandbox's CPU time where
    // readable): at load 40 on 2 cores the loop took over 6 s of wall time to use its 1 s of CPU.
    assert.ok(cLoop.timings.activeMs < 6_000, String(cLoop.timings.activeMs));
    const slow = codeTool("slow", async () => {
      await delay(1_500);
      return "done";
    });
    const waited = await engine.execute({
      code: "print(await slow())",
      tools: [slow],
      limits: { activeTimeoutMs: 1_000 },
    }).result;
    assert.equal(waited.error, null, JSON.stringify(waited.error));
    assert.equal(waited.stdout, "done\n");
    assert.ok(waited.timings.toolWaitMs >= 1_400);
    assert.ok(waited.timings.activeMs < 1_000);
  });

  test("per-tool timeout raises ToolTimeoutError the script can catch; the handler sees the abort", async () => {
    let aborted = false;
    const hang = codeTool("hang", (_input, context) => {
      return new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => {
          aborted = true;
          reject(new Error("aborted"));
        });
      });
    });
    const result = await engine.execute({
      code: [
        "try:",
        "    await hang()",
        "except TimeoutError as e:",
        "    print('timeout', type(e).__name__, e.code, isinstance(e, ToolError))",
      ].join("\n"),
      tools: [hang],
      limits: { toolTimeoutMs: 300 },
    }).result;
    assert.equal(result.stdout, "timeout ToolTimeoutError tool_timeout True\n");
    assert.ok(aborted);
    assert.ok(result.limitsHit.includes("tool_timeout"));
    assert.equal(result.toolCalls[0]?.error?.code, "tool_timeout");
  });

  test("a pending call times out with TimeoutError in the script", async () => {
    const ask = codeTool("ask");
    const result = await engine.execute({
      code: "try:\n    await ask()\nexcept TimeoutError:\n    print('gave up')",
      tools: [ask],
      limits: { pendingToolTimeoutMs: 300 },
    }).result;
    assert.equal(result.stdout, "gave up\n");
  });

  test("maximum tool calls", async () => {
    const ping = codeTool("ping", () => "pong");
    const result = await engine.execute({
      code: "for i in range(10):\n    await ping()\nprint('unreachable')",
      tools: [ping],
      limits: { maxToolCalls: 5 },
    }).result;
    assert.equal(result.error?.code, "tool_call_limit");
    assert.equal(result.error?.line, 2);
    assert.equal(result.toolCalls.filter((call) => call.ok).length, 5);
    assert.equal(result.stdout, "");
  });

  test("output bytes: truncated with a marker, the script keeps going", async () => {
    const result = await engine.execute({
      code: "for i in range(20000):\n    print('x' * 100)\nimport sys\nprint('err', file=sys.stderr)\nresult = 'finished'",
      limits: { maxOutputBytes: 10_000 },
    }).result;
    assert.equal(result.status, "completed");
    assert.deepEqual(result.truncated, { stdout: true, stderr: false });
    assert.ok(result.limitsHit.includes("output_limit"));
    assert.ok(Buffer.byteLength(result.stdout) < 10_300);
    assert.match(result.stdout, /\[ptc: stdout truncated at 10000 bytes; at least \d+ more bytes dropped\]/);
    assert.equal(result.stderr, "err\n");
    // A gigabyte of one repeated character: truncated in the sandbox, and counting the kept
    // megabyte's tokens stays bounded (BPE is quadratic in one long run).
    const flood = await engine.execute({
      code: "s = 'x' * (1024 * 1024)\nfor i in range(1024):\n    print(s)\nprint('done', file=__import__('sys').stderr)",
    }).result;
    assert.equal(flood.status, "completed");
    assert.equal(flood.stderr, "done\n");
    assert.ok(flood.truncated.stdout);
    assert.ok(flood.timings.totalMs < 15_000, String(flood.timings.totalMs));
    assert.ok(flood.contextSavings.outputTokens > 10_000);
  });

  test("memory: growth past the cap raises MemoryError, and the sandbox stays usable", async () => {
    const container = "memory-test";
    const bomb = await engine.execute({
      code: "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))",
      container,
      limits: { memoryBytes: 256 * 1_048_576 },
    }).result;
    assert.equal(bomb.error?.code, "memory_limit");
    assert.equal(bomb.error?.type, "MemoryError");
    assert.ok(bomb.limitsHit.includes("memory_limit"));
    const caught = await engine.execute({
      code: "try:\n    x = bytearray(1024 * 1024 * 1024)\nexcept MemoryError:\n    print('refused')\nprint(sum(range(10)))",
      container,
      limits: { memoryBytes: 256 * 1_048_576 },
    }).result;
    assert.equal(caught.stdout, "refused\n45\n");
    assert.equal(caught.containerReset, false);
    engine.closeContainer(container);
  });

  test("tool input size: a huge argument is refused in the script, the sandbox keeps working", async () => {
    let ran = false;
    const sink = codeTool("sink", () => {
      ran = true;
      return "stored";
    });
    const result = await engine.execute({
      code: [
        "try:",
        "    await sink(blob='x' * (20 * 1024 * 1024))",
        "except ToolError as e:",
        "    print(e.code)",
        "print(await sink(blob='small'))",
      ].join("\n"),
      tools: [sink],
    }).result;
    assert.equal(result.stdout, "tool_input_too_large\nstored\n");
    assert.ok(ran);
  });

  test("a small tool input limit does not bound output or the error report: long prints and tracebacks arrive whole", async () => {
    // Every child frame once had to fit in maxToolInputBytes + a header: a 100 KB print killed the sandbox.
    const result = await engine.execute({
      code: ['print("x" * 100_000)', 'print("\\x01" * 70_000)', 'raise ValueError("y" * 10_000)'].join("\n"),
      limits: { maxToolInputBytes: 1_000 },
    }).result;
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, "python_error");
    assert.equal(result.stdout, `${"x".repeat(100_000)}\n${"\x01".repeat(70_000)}\n`);
    assert.equal(result.error?.type, "ValueError");
    assert.equal(result.error?.message, "y".repeat(10_000));
  });

  test("invalid limits are refused up front with a stable code", () => {
    assert.throws(
      () => engine.execute({ code: "pass", limits: { wallTimeoutMs: -1 } }),
      (error: unknown) => error instanceof Error && "code" in error && error.code === "invalid_request",
    );
  });
});

describe("faults: a dead sandbox fails only its own execution", () => {
  test("kill -9 of the sandbox mid-call, then the pool recovers", async () => {
    const container = "doomed";
    const block = codeTool("block");
    const first = await engine.execute({ code: "state = 'kept'", container }).result;
    assert.equal(first.status, "completed");
    const execution = engine.execute({ code: "await block()", container, tools: [block] });
    for await (const event of execution) {
      if (event.type === "tool-call") {
        const root = engine.inspectContainer(container)?.sandboxPid;
        assert.ok(root);
        // Kill the whole tree (bubblewrap and the node child inside it), deepest first.
        for (const pid of (await processTree(root)).reverse()) process.kill(pid, "SIGKILL");
      }
    }
    const crashed = await execution.result;
    assert.equal(crashed.status, "failed");
    assert.equal(crashed.error?.code, "sandbox_crashed");
    const next = await engine.execute({ code: "print('state' in globals())", container }).result;
    assert.equal(next.stdout, "False\n");
    assert.equal(next.containerReset, true);
    const other = await engine.execute({ code: "print(6 * 7)" }).result;
    assert.equal(other.stdout, "42\n");
    engine.closeContainer(container);
  });

  test("cancel while a handler runs: the handler sees the abort, the result says cancelled", async () => {
    let sawAbort = false;
    const long = codeTool("long", (_input, context) => {
      return new Promise((resolve) => {
        context.signal.addEventListener("abort", () => {
          sawAbort = true;
          resolve("late");
        });
      });
    });
    const execution = engine.execute({ code: "await long()", tools: [long] });
    for await (const event of execution) {
      if (event.type === "tool-call") execution.cancel("user pressed stop");
    }
    const result = await execution.result;
    assert.equal(result.status, "cancelled");
    assert.equal(result.error?.code, "cancelled");
    assert.equal(result.error?.message, "user pressed stop");
    assert.ok(sawAbort);
  });
});
