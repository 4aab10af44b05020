import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ExecutionEvent } from "../../src/protocol/execution.js";
import { codeTool, delay, testEngine } from "../helpers/engine.js";

const engine = testEngine();
after(() => engine.close());

const echo = codeTool("echo", (input) => input);
const add = codeTool("add", (input) => Number(input.a) + Number(input.b), {
  type: "object",
  properties: { a: { type: "number" }, b: { type: "number" } },
  required: ["a", "b"],
  additionalProperties: false,
});
const fail = codeTool("fail", () => {
  throw new Error("inventory service unavailable");
});
const directOnly = { name: "delete_everything", description: "direct only", inputSchema: { type: "object" } };

describe("engine: tool calls through the sandbox", () => {
  test("keyword arguments and a single dict, JSON and string results", async () => {
    const greet = codeTool("greet", (input) => `hello ${String(input.name)}`);
    const result = await engine.execute({
      code: [
        "a = await add(a=2, b=3)",
        'b = await add({"a": 10, "b": 5})',
        'e = await echo(items=[1, 2], nested={"k": None})',
        'g = await greet(name="ada")',
        "print(a, b, type(e).__name__, e['items'], e['nested'], type(g).__name__, g)",
      ].join("\n"),
      tools: [add, echo, greet],
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "5 15 dict [1, 2] {'k': None} str hello ada\n");
    assert.equal(result.returnCode, 0);
    assert.equal(result.toolCalls.length, 4);
    assert.ok(result.toolCalls.every((call) => call.ok && call.resolvedBy === "handler"));
    assert.deepEqual(result.toolCalls[0]?.input, { a: 2, b: 3 });
  });

  test("a handler written as a method runs with its definition as `this`", async () => {
    const counter = {
      name: "next_number",
      inputSchema: { type: "object" },
      allowedCallers: ["code_execution" as const],
      start: 41,
      handler(this: { start: number }) {
        return ++this.start;
      },
    };
    const result = await engine.execute({ code: "print(await next_number())", tools: [counter] }).result;
    assert.equal(result.stdout, "42\n");
  });

  test("hosted-style scripts run unchanged: asyncio.run(main()) and json.loads(await tool())", async () => {
    const rows = codeTool("query", () => [{ region: "North", total: 5 }]);
    const code = [
      "import asyncio, json",
      "async def main():",
      '    rows = json.loads(await query({"sql": "select 1"}))',
      '    both = await asyncio.gather(query({"sql": "a"}), query({"sql": "b"}))',
      '    print(rows[0]["region"], len(both))',
      "    return 42",
      "print(asyncio.run(main()))",
    ].join("\n");
    const json = await engine.execute({ code, tools: [rows] }).result;
    assert.equal(json.error, null, JSON.stringify(json.error));
    assert.equal(json.stdout, "North 2\n42\n");
    // Text mode: every result is a str, as on Anthropic's hosted version.
    const text = await engine.execute({
      code: 'r = await query({"sql": "x"})\nprint(type(r).__name__, r)\nimport json\nprint(json.loads(r)[0]["total"])',
      tools: [rows],
      resultMode: "text",
    }).result;
    assert.equal(text.stdout, 'str [{"region":"North","total":5}]\n5\n');
  });

  test("validation happens on the host before the handler runs", async () => {
    let ran = 0;
    const counted = codeTool(
      "counted",
      () => {
        ran++;
        return 1;
      },
      { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false },
    );
    const result = await engine.execute({
      code: [
        "for bad in [{}, {'n': 'x'}, {'n': 1, 'extra': True}]:",
        "    try:",
        "        await counted(bad)",
        "    except ToolError as e:",
        "        print(e.code)",
        "print(await counted(n=3))",
      ].join("\n"),
      tools: [counted],
    }).result;
    assert.equal(result.stdout, "invalid_tool_input\ninvalid_tool_input\ninvalid_tool_input\n1\n");
    assert.equal(ran, 1);
  });

  test("a tool not allowed from code raises ToolError tool_not_allowed in the sandbox without a call; a raw call is refused", async () => {
    let called = false;
    const guarded = {
      ...directOnly,
      handler: () => {
        called = true;
        return "deleted";
      },
    };
    const result = await engine.execute({
      code: [
        "try:",
        "    await delete_everything(confirm=True)",
        "except ToolError as error:",
        "    print(error.code, error.tool, error)",
        "import _ptc_bridge",
        "r = await _ptc_bridge.call('delete_everything', '{}')",
        "print(r)",
        "await delete_everything()",
      ].join("\n"),
      tools: [guarded, echo],
    }).result;
    assert.equal(called, false);
    const [stub, raw] = result.stdout.split("\n");
    assert.equal(
      stub,
      'tool_not_allowed delete_everything delete_everything is not callable from code: allowed_callers is ["direct"]',
    );
    assert.match(raw ?? "", /^0.*tool_not_allowed.*is not callable from code: allowed_callers is \[\\"direct\\"\]/);
    // Uncaught, it ends the script with that code; only the raw call crossed the bridge, and the host refused it.
    assert.equal(result.error?.code, "tool_not_allowed");
    assert.equal(result.error?.line, 8);
    assert.deepEqual(
      result.toolCalls.map((call) => [call.name, call.resolvedBy, call.error?.code]),
      [["delete_everything", "host", "tool_not_allowed"]],
    );
  });

  test("tool errors raise ToolError: caught, and uncaught with a traceback naming the script line", async () => {
    const caught = await engine.execute({
      code: "try:\n    await fail()\nexcept ToolError as e:\n    print('caught:', e, e.code)",
      tools: [fail],
    }).result;
    assert.equal(caught.stdout, "caught: inventory service unavailable tool_error\n");
    const uncaught = await engine.execute({ code: "x = 1\n\nawait fail()\nprint('never')", tools: [fail] }).result;
    assert.equal(uncaught.status, "failed");
    assert.equal(uncaught.returnCode, 1);
    assert.equal(uncaught.error?.code, "tool_error");
    assert.equal(uncaught.error?.type, "ToolError");
    assert.equal(uncaught.error?.line, 3);
    assert.match(uncaught.error?.traceback ?? "", /File "script.py", line 3, in <module>/);
    assert.doesNotMatch(uncaught.error?.traceback ?? "", /<exec>|_pyodide|webloop/);
    assert.equal(uncaught.stdout, "");
  });

  test("asyncio.gather runs calls concurrently on the host, up to the cap", async () => {
    let active = 0;
    let peak = 0;
    const slow = codeTool("slow", async (input) => {
      active++;
      peak = Math.max(peak, active);
      await delay(50);
      active--;
      return input.i;
    });
    const result = await engine.execute({
      code: "import asyncio\nr = await asyncio.gather(*[slow(i=i) for i in range(20)])\nprint(sum(r))",
      tools: [slow],
      limits: { maxConcurrentToolCalls: 8 },
    }).result;
    assert.equal(result.stdout, "190\n");
    assert.equal(peak, 8);
    assert.ok(result.limitsHit.includes("tool_concurrency_limit"));
    // 20 calls of 50 ms, 8 at a time: three waves, far below 20 sequential waits.
    assert.ok(result.timings.toolWaitMs < 20 * 50, `tool wait ${result.timings.toolWaitMs}`);
  });
});

describe("engine: pending calls resolved by the caller", () => {
  test("with runnerWithoutCaller, a call to a tool without a handler fails at once instead of pausing", async () => {
    const execution = engine.execute({
      code: "try:\n    await ask(q=1)\nexcept ToolError as e:\n    print(e.code, e)",
      tools: [codeTool("ask")],
      runnerWithoutCaller: "this test",
    });
    const types: string[] = [];
    for await (const event of execution) {
      types.push(event.type);
      if (event.type === "tool-call") assert.equal(event.pending, false);
    }
    const result = await execution.result;
    assert.equal(result.stdout, "tool_error ask has no handler in this test\n");
    assert.equal(result.toolCalls[0]?.resolvedBy, "host");
    assert.ok(!types.includes("execution-paused"));
  });

  test("a pause is reported only once the script has nothing else to run", async () => {
    const ask = codeTool("ask");
    const slow = codeTool("slow", async () => {
      await delay(200);
      return "slow done";
    });
    const execution = engine.execute({
      code: [
        "import asyncio",
        "task = asyncio.create_task(ask(q=1))",
        "await asyncio.sleep(0)",
        "busy = sum(i * i for i in range(3_000_000))  # still running: no pause yet",
        "a, b = await asyncio.gather(task, slow())",
        "print(a, b)",
      ].join("\n"),
      tools: [ask, slow],
    });
    const order: string[] = [];
    for await (const event of execution) {
      if (event.type === "tool-call" && event.pending) {
        // The call is out but the script is busy computing: not paused.
        assert.equal(execution.isPaused(), false);
      }
      if (event.type === "tool-result") order.push(`result:${event.name}`);
      if (event.type === "execution-paused") {
        order.push("paused");
        // The handler call had to finish first: while it runs the script is not waiting on the caller alone.
        assert.deepEqual(
          event.pendingCallIds,
          execution.pendingToolCalls().map((call) => call.id),
        );
        for (const id of event.pendingCallIds) execution.submitToolResult(id, { value: "asked" });
      }
    }
    const result = await execution.result;
    assert.equal(result.stdout, "asked slow done\n");
    assert.deepEqual(order, ["result:slow", "paused", "result:ask"]);
  });

  test("several pending calls at once, resolved from outside, in any order", async () => {
    const lookup = codeTool("lookup");
    const execution = engine.execute({
      code: "import asyncio\na, b = await asyncio.gather(lookup(k='a'), lookup(k='b'))\nprint(a, b)",
      tools: [lookup],
    });
    const seen: ExecutionEvent[] = [];
    let firstKey = "";
    for await (const event of execution) {
      seen.push(event);
      // The sandbox reports the pause once both calls of the gather are out: answer them together.
      if (event.type === "execution-paused") {
        assert.equal(event.pendingCallIds.length, 2);
        assert.ok(execution.isPaused());
        const [first, second] = execution.pendingToolCalls();
        assert.ok(first && second);
        firstKey = String(first.input.k);
        assert.equal(first.caller.type, "code_execution");
        assert.equal(first.caller.executionId, execution.id);
        assert.equal(execution.submitToolResult(second.id, { value: `B-${String(second.input.k)}` }), "accepted");
        assert.equal(execution.submitToolResult(second.id, { value: "again" }), "duplicate");
        assert.equal(execution.submitToolResult(first.id, { value: { k: first.input.k } }), "accepted");
        assert.ok(!execution.isPaused());
      }
    }
    const result = await execution.result;
    // The first pending call got a dict back, the second a string: gather keeps argument order.
    assert.equal(result.stdout, firstKey === "a" ? "{'k': 'a'} B-b\n" : "B-a {'k': 'b'}\n");
    assert.deepEqual(
      seen.map((event) => event.type).filter((type) => type !== "stdout"),
      ["execution-start", "tool-call", "tool-call", "execution-paused", "tool-result", "tool-result", "done"],
    );
    assert.ok(result.toolCalls.every((call) => call.resolvedBy === "caller"));
    assert.throws(() => execution.submitToolResult("call_unknown", { value: 1 }), /no pending tool call/);
    const journal = execution.journal();
    assert.deepEqual(
      journal.map((entry) => entry.type),
      ["execution-start", "tool-call", "tool-call", "tool-result", "tool-result", "execution-end"],
    );
    assert.deepEqual(
      journal.map((entry) => entry.seq),
      [0, 1, 2, 3, 4, 5],
    );
  });

  test("an error submitted for a pending call raises in the script", async () => {
    const approve = codeTool("approve");
    const execution = engine.execute({
      code: "try:\n    await approve(id=1)\nexcept ToolError as e:\n    print('denied:', e)",
      tools: [approve],
    });
    for await (const event of execution) {
      if (event.type === "tool-call") execution.submitToolResult(event.call.id, { error: "user said no" });
    }
    assert.equal((await execution.result).stdout, "denied: user said no\n");
  });
});

describe("engine: containers", () => {
  test("Python globals persist within a container and never leak to another", async () => {
    const first = await engine.execute({ code: "counter = 41", container: "ctr-a" }).result;
    assert.equal(first.containerId, "ctr-a");
    const second = await engine.execute({ code: "counter += 1\nprint(counter)", container: "ctr-a" }).result;
    assert.equal(second.stdout, "42\n");
    const other = await engine.execute({ code: "print('counter' in globals())", container: "ctr-b" }).result;
    assert.equal(other.stdout, "False\n");
    const oneOff = await engine.execute({ code: "print('counter' in globals())" }).result;
    assert.equal(oneOff.stdout, "False\n");
    assert.notEqual(oneOff.containerId, "ctr-a");
    assert.ok(engine.closeContainer("ctr-a"));
    assert.ok(engine.closeContainer("ctr-b"));
    const fresh = await engine.execute({ code: "print('counter' in globals())", container: "ctr-a" }).result;
    assert.equal(fresh.stdout, "False\n");
    engine.closeContainer("ctr-a");
  });
});

describe("engine: result", () => {
  test("reports calls, timings, isolation and the data kept out of context", async () => {
    const big = codeTool("big", () => Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}` })));
    const result = await engine.execute({ code: "rows = await big()\nprint(len(rows))", tools: [big] }).result;
    assert.equal(result.stdout, "500\n");
    const call = result.toolCalls[0];
    assert.ok(call && call.resultBytes > 10_000 && call.durationMs >= 0);
    assert.equal(result.contextSavings.toolResultBytes, call.resultBytes);
    assert.ok(result.contextSavings.toolResultTokens > 1000, String(result.contextSavings.toolResultTokens));
    assert.ok(result.contextSavings.outputTokens >= 1 && result.contextSavings.outputTokens < 5);
    assert.equal(result.contextSavings.tokenizer, "o200k_base");
    assert.ok(["namespaces", "permission-model", "process"].includes(result.isolation.level));
    assert.equal(typeof result.isolation.networkBlocked, "boolean");
    assert.ok(result.timings.totalMs >= result.timings.activeMs);
    assert.deepEqual(result.truncated, { stdout: false, stderr: false });
  });

  test("syntax errors and SystemExit", async () => {
    const syntax = await engine.execute({ code: "print('a'\n" }).result;
    assert.equal(syntax.error?.type, "SyntaxError");
    assert.equal(syntax.error?.code, "python_error");
    const exit = await engine.execute({ code: "import sys\nprint('bye')\nsys.exit(3)" }).result;
    assert.equal(exit.stdout, "bye\n");
    assert.equal(exit.returnCode, 3);
    const clean = await engine.execute({ code: "import sys\nsys.exit(0)" }).result;
    assert.equal(clean.returnCode, 0);
    assert.equal(clean.error, null);
  });

  test("how a script is run: dedented, top-level await, errors at the script's line, the runtime's own compile and eval", async () => {
    const indented = await engine.execute({ code: "    x = 2\n    if x:\n        print(x * 21)\n" }).result;
    assert.equal(indented.stdout, "42\n");
    const late = await engine.execute({ code: "x = 1\ny = (\n" }).result;
    assert.equal(late.error?.type, "SyntaxError");
    assert.equal(late.error?.line, 2);
    const nested = await engine.execute({ code: "def f():\n    return 1 / 0\n\nf()" }).result;
    assert.equal(nested.error?.type, "ZeroDivisionError");
    assert.equal(nested.error?.line, 2);
    assert.match(nested.error?.traceback ?? "", /^Traceback \(most recent call last\):\n {2}File "script\.py", line 4/);
    // A trailing semicolon means nothing in a script (no last-expression result), and `await` works anywhere
    // at the top level, also in a comprehension.
    const awaited = await engine.execute({
      code: "import asyncio\nr = [await asyncio.sleep(0, i) for i in range(3)];\nprint(r);",
    }).result;
    assert.equal(awaited.stdout, "[0, 1, 2]\n");
    // A script that replaces builtins.compile and eval breaks only its own calls to them: the container's
    // next script is still compiled and run by the runtime.
    const container = "own-builtins";
    const broken = await engine.execute({
      code: "import builtins\nbuiltins.compile = builtins.eval = lambda *a, **k: 1 / 0\nprint('replaced')",
      container,
    }).result;
    assert.equal(broken.stdout, "replaced\n");
    const next = await engine.execute({ code: "print('still runs')", container }).result;
    assert.equal(next.stdout, "still runs\n");
    assert.equal(next.error, null);
    engine.closeContainer(container);
  });
});
