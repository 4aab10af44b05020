import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Journal } from "../../src/engine/journal.js";
import { ToolCallBroker, type ToolCallEvent } from "../../src/engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import { type ExecutionLimits, resolveLimits } from "../../src/protocol/limits.js";
import type { ToolCallContext, ToolDefinition } from "../../src/protocol/tool.js";
import { MAX_TOOL_NAME_CHARS } from "../../src/sandbox/pyodide/bridge.js";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { codeTool, delay } from "../helpers/engine.js";

/** What the broker sent into the (fake) sandbox: each reply, decoded. */
interface Reply {
  guestCallId: number;
  ok: boolean;
  payload: unknown;
}

/** A broker on a fake port: no sandbox, the test plays the guest (`call`, `cancel`) and reads the replies. */
function brokerWith(tools: ToolDefinition[], limits: Partial<ExecutionLimits> = {}, runnerWithoutCaller?: string) {
  const replies: Reply[] = [];
  const events: ToolCallEvent[] = [];
  const journal = new Journal("exec_test");
  const broker = new ToolCallBroker({
    executionId: "exec_test",
    containerId: "container_test",
    // servesDirectCalls: a direct-only tool here is meant that way (no warning about it).
    registry: ToolRegistry.from(tools, { servesDirectCalls: true }),
    limits: resolveLimits(limits),
    journal,
    ...(runnerWithoutCaller !== undefined ? { runnerWithoutCaller } : {}),
    port: {
      reply: (guestCallId, ok, payloadJson) => replies.push({ guestCallId, ok, payload: JSON.parse(payloadJson) }),
    },
    emit: (event) => events.push(event),
  });
  const call = (guestCallId: number, name: string, input: unknown) =>
    broker.handleGuestCall(guestCallId, name, typeof input === "string" ? input : JSON.stringify(input));
  const limitsHit = () => events.flatMap((event) => (event.type === "limit" ? [event.code] : []));
  return { broker, replies, events, journal, call, limitsHit };
}

/** Resolves once `replies` has `count` entries (handlers settle on later ticks). */
async function replies(list: Reply[], count: number): Promise<Reply[]> {
  for (let waited = 0; list.length < count && waited < 2000; waited += 5) await delay(5);
  return list;
}

describe("ToolCallBroker on a fake port", () => {
  test("replies carry the guest's call id, in the order handlers finish; records and journal keep issue order", async () => {
    const slow = codeTool("slow", async (input) => {
      await delay(Number(input.ms));
      return `slept ${input.ms}`;
    });
    const { broker, replies: sent, events, journal, call } = brokerWith([slow]);
    call(1, "slow", { ms: 40 });
    call(2, "slow", { ms: 1 });
    assert.equal(broker.outstanding, 2);
    await replies(sent, 2);
    assert.deepEqual(sent, [
      { guestCallId: 2, ok: true, payload: "slept 1" },
      { guestCallId: 1, ok: true, payload: "slept 40" },
    ]);
    assert.deepEqual(
      broker.records.map((record) => [record.input.ms, record.outcome, record.resolvedBy]),
      [
        [40, "ok", "handler"],
        [1, "ok", "handler"],
      ],
    );
    const calls = journal.entries().filter((entry) => entry.type === "tool-call");
    assert.deepEqual(
      calls.map((entry) => entry.guestCallId),
      [1, 2],
    );
    // Each call is announced once, and the number of outstanding calls is reported on every change.
    assert.deepEqual(
      events.map((event) => event.type),
      [
        "outstanding",
        "tool-call",
        "outstanding",
        "tool-call",
        "tool-result",
        "outstanding",
        "tool-result",
        "outstanding",
      ],
    );
    assert.equal(broker.outstanding, 0);
  });

  test("calls past maxConcurrentToolCalls wait for a slot, and the limit is reported", async () => {
    let running = 0;
    let most = 0;
    const tool = codeTool("work", async () => {
      most = Math.max(most, ++running);
      await delay(5);
      running--;
      return 1;
    });
    const { replies: sent, call, limitsHit } = brokerWith([tool], { maxConcurrentToolCalls: 2 });
    for (let id = 1; id <= 5; id++) call(id, "work", {});
    await replies(sent, 5);
    assert.equal(most, 2);
    assert.deepEqual(sent.map((reply) => reply.guestCallId).sort(), [1, 2, 3, 4, 5]);
    assert.ok(limitsHit().includes(ErrorCode.ToolConcurrencyLimit));
  });

  test("budgets: calls past maxToolCalls, inputs past maxTotalToolInputBytes and results past maxTotalToolResultBytes are refused", async () => {
    const echo = codeTool("echo", (input) => input.text);
    const calls = brokerWith([echo], { maxToolCalls: 2 });
    for (let id = 1; id <= 3; id++) calls.call(id, "echo", { text: "x" });
    await replies(calls.replies, 3);
    const refused = calls.replies.find((reply) => reply.guestCallId === 3);
    assert.deepEqual(refused?.payload, {
      type: "ToolError",
      code: ErrorCode.ToolCallLimit,
      message: "tool call limit of 2 reached",
    });
    assert.deepEqual(calls.limitsHit(), [ErrorCode.ToolCallLimit]);
    assert.equal(calls.broker.records.at(-1)?.resolvedBy, "host");

    const inputs = brokerWith([echo], { maxTotalToolInputBytes: 30 });
    inputs.call(1, "echo", { text: "a".repeat(10) }); // 21 bytes
    inputs.call(2, "echo", { text: "b".repeat(10) }); // would make 42
    await replies(inputs.replies, 2);
    assert.equal(inputs.replies.find((reply) => reply.guestCallId === 2)?.ok, false);
    assert.match(JSON.stringify(inputs.replies), /tool_input_total_limit/);
    assert.deepEqual(inputs.limitsHit(), [ErrorCode.ToolInputTotalLimit]);

    const results = brokerWith([echo], { maxTotalToolResultBytes: 20 });
    results.call(1, "echo", { text: "c".repeat(12) }); // 14 bytes as JSON
    await replies(results.replies, 1);
    results.call(2, "echo", { text: "d".repeat(12) });
    await replies(results.replies, 2);
    assert.deepEqual(
      results.replies.map((reply) => reply.ok),
      [true, false],
    );
    assert.deepEqual(results.replies[1]?.payload, {
      type: "ToolError",
      code: ErrorCode.ToolResultTotalLimit,
      message:
        "result of echo (14 bytes) would take this execution's tool results past 20 bytes in all (maxTotalToolResultBytes)",
    });
    assert.deepEqual(results.limitsHit(), [ErrorCode.ToolResultTotalLimit]);
  });

  test("the guest's cancel (X frame) aborts the handler, records the call cancelled and sends no reply", async () => {
    let signal: AbortSignal | undefined;
    let finish: (value: string) => void = () => {};
    const hang = codeTool("hang", (_input, context) => {
      signal = context.signal;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    });
    const { broker, replies: sent, events, journal, call } = brokerWith([hang]);
    call(7, "hang", {});
    assert.equal(broker.outstanding, 1);
    broker.cancelGuestCall(99); // not a live call: ignored
    broker.cancelGuestCall(7);
    assert.equal(signal?.aborted, true);
    assert.equal(PtcError.is(signal?.reason, ErrorCode.Cancelled), true);
    assert.equal(broker.outstanding, 0);
    assert.equal(broker.records[0]?.outcome, "cancelled");
    const result = events.find((event) => event.type === "tool-result");
    assert.deepEqual(result?.type === "tool-result" && result.outcome, {
      ok: false,
      error: { code: ErrorCode.Cancelled, message: "the script cancelled this call" },
    });
    assert.equal(journal.entries().at(-1)?.type, "tool-result");
    // The handler finishing late changes nothing: the guest gets no reply for a call it gave up on.
    finish("late");
    broker.cancelGuestCall(7);
    await delay(10);
    assert.deepEqual(sent, []);
    assert.equal(broker.records[0]?.outcome, "cancelled");
  });

  test("pending calls: answered by submit once; unknown, duplicate and withdrawn ids are told apart", async () => {
    const { broker, replies: sent, events, call } = brokerWith([codeTool("ask")]);
    call(1, "ask", { q: 1 });
    call(2, "ask", { q: 2 });
    const announced = events.flatMap((event) => (event.type === "tool-call" ? [event] : []));
    assert.deepEqual(
      announced.map((event) => event.pending),
      [true, true],
    );
    const [first, second] = broker.pending();
    assert.ok(first && second);
    assert.equal(broker.submit(first.id, { value: { answer: 42 } }), "accepted");
    assert.equal(broker.submit(first.id, { value: "again" }), "duplicate");
    assert.throws(
      () => broker.submit("call_nope", { value: 1 }),
      (error) => PtcError.is(error, ErrorCode.UnknownToolCall),
    );
    broker.cancelGuestCall(2);
    assert.throws(
      () => broker.submit(second.id, { value: 1 }),
      (error) => PtcError.is(error, ErrorCode.UnknownToolCall),
    );
    assert.deepEqual(sent, [{ guestCallId: 1, ok: true, payload: { answer: 42 } }]);
    assert.equal(broker.records[0]?.resolvedBy, "caller");
  });

  test("a call to a tool without a handler fails at once when nobody answers pending calls", () => {
    const { replies: sent, call } = brokerWith([codeTool("ask")], {}, "this agent loop");
    call(1, "ask", {});
    assert.deepEqual(sent, [
      {
        guestCallId: 1,
        ok: false,
        payload: { type: "ToolError", code: ErrorCode.ToolError, message: "ask has no handler in this agent loop" },
      },
    ]);
  });

  test("refused calls: each reason has its code, the record is the host's, and no handler runs", () => {
    let ran = 0;
    const tools = [
      codeTool("typed", () => ran++, { type: "object", properties: { n: { type: "number" } }, required: ["n"] }),
      {
        name: "direct_only",
        description: "not from code",
        inputSchema: { type: "object" as const },
        handler: () => ran++,
      },
    ];
    const { broker, replies: sent, call } = brokerWith(tools, { maxToolInputBytes: 500 });
    call(1, "missing", {});
    call(2, "x".repeat(MAX_TOOL_NAME_CHARS + 1), {});
    call(3, "typed", { n: "x".repeat(600) });
    call(4, "typed", "{not json");
    call(5, "typed", { n: "one" });
    call(6, "direct_only", {});
    call(7, "typed", { n: 1, deep: JSON.parse(`${"[".repeat(200)}${"]".repeat(200)}`) });
    const codes = sent.map((reply) => [reply.guestCallId, reply.ok, (reply.payload as { code: string }).code]);
    assert.deepEqual(codes, [
      [1, false, ErrorCode.ToolNotFound],
      [2, false, ErrorCode.ToolNotFound],
      [3, false, ErrorCode.ToolInputTooLarge],
      [4, false, ErrorCode.InvalidToolInput],
      [5, false, ErrorCode.InvalidToolInput],
      [6, false, ErrorCode.ToolNotAllowed],
      [7, false, ErrorCode.InvalidToolInput],
    ]);
    assert.equal(ran, 0);
    assert.equal(broker.outstanding, 0);
    assert.ok(broker.records.every((record) => record.resolvedBy === "host" && record.outcome === "error"));
    // A name past the cap is kept as a prefix; an input nested too deep is not kept at all.
    assert.equal(broker.records[1]?.name.length, 65);
    assert.deepEqual(broker.records[6]?.input, {});
  });

  test("a refused call is journaled (for replay) only with an input small enough to keep; budget refusals are held nowhere", () => {
    const typed = codeTool("typed", () => "ran", { type: "object", properties: { n: { type: "number" } } });
    const { journal, call } = brokerWith([typed], { maxTotalToolInputBytes: 20_000 });
    call(1, "typed", { n: "small" });
    call(2, "typed", { n: "x".repeat(5_000) });
    call(3, "typed", { n: "y".repeat(15_000) });
    const calls = journal.entries().flatMap((entry) => (entry.type === "tool-call" ? [entry] : []));
    // Only the first: the second is over the 4 KiB kept for refusals, the third over the input budget.
    assert.deepEqual(
      calls.map((entry) => [entry.guestCallId, entry.input]),
      [[1, { n: "small" }]],
    );
  });

  test("close withdraws every live call: handlers see the abort, nothing is replied, later calls are ignored", async () => {
    const signals: AbortSignal[] = [];
    const hang = codeTool("hang", (_input, context) => {
      signals.push(context.signal);
      return new Promise(() => {});
    });
    const { broker, replies: sent, call } = brokerWith([hang, codeTool("ask")]);
    call(1, "hang", {});
    call(2, "ask", {});
    broker.close("execution finished");
    call(3, "hang", {});
    await delay(5);
    assert.equal(signals.length, 1);
    assert.equal(signals[0]?.aborted, true);
    assert.deepEqual(sent, []);
    assert.deepEqual(
      broker.records.map((record) => record.outcome),
      ["cancelled", "cancelled"],
    );
  });

  test("a handler failing with its own tool_timeout (a source's deadline) is the script's ToolTimeoutError, as the engine's timer is", async () => {
    const late = codeTool("late", () => {
      throw new PtcError(ErrorCode.ToolTimeout, "tool server did not answer within 499 ms");
    });
    const { replies: sent, call, limitsHit } = brokerWith([late]);
    call(1, "late", {});
    const [reply] = await replies(sent, 1);
    assert.deepEqual(reply, {
      guestCallId: 1,
      ok: false,
      payload: {
        type: "ToolTimeoutError",
        code: ErrorCode.ToolTimeout,
        message: "tool server did not answer within 499 ms",
      },
    });
    assert.deepEqual(limitsHit(), [ErrorCode.ToolTimeout]);
  });

  test("timeouts under one timer: quick calls never time out, each slow or pending one does, in its own time", async () => {
    let finishSlow: () => void = () => {};
    const quick = codeTool("quick", (input) => input.i);
    const slow = codeTool("slow", () => new Promise<void>((resolve) => (finishSlow = resolve)));
    const {
      replies: sent,
      call,
      limitsHit,
    } = brokerWith([quick, slow, codeTool("ask")], {
      toolTimeoutMs: 150,
      pendingToolTimeoutMs: 250,
    });
    const started = performance.now();
    call(1, "slow", {});
    call(2, "ask", {});
    // Quick calls settle before their deadline, before and after the slow one's: they leave the queue.
    for (let i = 3; i < 40; i++) {
      call(i, "quick", { i });
      await delay(i === 20 ? 160 : 2);
    }
    await replies(sent, 39);
    const byId = new Map(sent.map((reply) => [reply.guestCallId, reply]));
    for (let i = 3; i < 40; i++) assert.deepEqual(byId.get(i), { guestCallId: i, ok: true, payload: i });
    const timedOut = (id: number, ms: number) => ({
      guestCallId: id,
      ok: false,
      payload: {
        type: "ToolTimeoutError",
        code: ErrorCode.ToolTimeout,
        message: `${id === 1 ? "slow" : "ask"} did not return within ${ms} ms`,
      },
    });
    assert.deepEqual(byId.get(1), timedOut(1, 150));
    assert.deepEqual(byId.get(2), timedOut(2, 250));
    assert.ok(performance.now() - started >= 250);
    assert.deepEqual(limitsHit(), [ErrorCode.ToolTimeout, ErrorCode.ToolTimeout]);
    finishSlow(); // late: changes nothing
    await delay(5);
    assert.equal(sent.length, 39);
  });

  test("a handler's signal exists once read: read after a timeout it is aborted, and a spread context carries it", async () => {
    const contexts: ToolCallContext[] = [];
    const hang = codeTool("hang", (_input, context) => {
      contexts.push(context);
      return new Promise(() => {});
    });
    const { broker, call } = brokerWith([hang], { toolTimeoutMs: 30 });
    call(1, "hang", {});
    call(2, "hang", {});
    const copy = { ...contexts[1] } as ToolCallContext;
    assert.equal(copy.signal.aborted, false);
    await delay(80);
    // Never read before the timeout: born aborted, with the timeout's reason.
    assert.equal(contexts[0]?.signal.aborted, true);
    assert.equal(PtcError.is(contexts[0]?.signal.reason, ErrorCode.ToolTimeout), true);
    assert.equal(copy.signal.aborted, true);
    assert.equal(copy.signal, contexts[1]?.signal);
    assert.deepEqual(Object.keys(contexts[0] ?? {}), [
      "callId",
      "executionId",
      "containerId",
      "caller",
      "signal",
      "deadline",
      "maxResultBytes",
    ]);
    broker.close("done");
  });

  test("a handler's immediate answer is replied in the same turn; a promise, a thenable or a throwing then waits for it", async () => {
    // biome-ignore lint/suspicious/noThenProperty: a handler returning a thenable is what this test checks
    const thenable = { then: (resolve: (value: unknown) => void) => resolve("from a thenable") };
    // biome-ignore lint/suspicious/noThenProperty: and one whose `then` getter throws
    const badThen = Object.defineProperty({}, "then", {
      get() {
        throw new Error("then getter");
      },
    });
    const plain = codeTool("plain", (input) => ({ echoed: input.n }));
    const thrower = codeTool("thrower", () => {
      throw new Error("at once");
    });
    const later = codeTool("later", async () => "from a promise");
    const viaThenable = codeTool("via_thenable", () => thenable);
    const viaBadThen = codeTool("via_bad_then", () => badThen);
    const {
      broker,
      replies: sent,
      events,
      journal,
      call,
    } = brokerWith([plain, thrower, later, viaThenable, viaBadThen]);
    call(1, "plain", { n: 7 });
    call(2, "thrower", {});
    // Both answered before handleGuestCall returned: nothing waited for a microtask.
    assert.deepEqual(
      sent.map((reply) => [reply.guestCallId, reply.ok]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.deepEqual(sent[0]?.payload, { echoed: 7 });
    assert.equal((sent[1]?.payload as { code?: string } | undefined)?.code, ErrorCode.ToolError);
    call(3, "later", {});
    call(4, "via_thenable", {});
    call(5, "via_bad_then", {});
    assert.equal(sent.length, 2);
    assert.equal(broker.outstanding, 3);
    await replies(sent, 5);
    assert.deepEqual(
      sent
        .slice(2)
        .map((reply) => [reply.guestCallId, reply.ok, reply.ok ? reply.payload : null])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [3, true, "from a promise"],
        [4, true, "from a thenable"],
        [5, false, null],
      ],
    );
    // Events and journal as for any call: each call reported before its result, every outcome journaled.
    const kinds = events.filter((event) => event.type !== "outstanding").map((event) => event.type);
    assert.deepEqual(kinds.slice(0, 4), ["tool-call", "tool-result", "tool-call", "tool-result"]);
    assert.equal(journal.entries().filter((entry) => entry.type === "tool-result").length, 5);
    assert.equal(broker.records.filter((record) => record.outcome === "ok").length, 3);
    broker.close("done");
  });

  test("a hostile Proxy returned or thrown at once is one ToolError reply, never a crash or a second answer", async () => {
    const hostile = () =>
      new Proxy(
        {},
        {
          getPrototypeOf() {
            throw new Error("trap");
          },
          get() {
            throw new Error("trap");
          },
        },
      );
    const returns = codeTool("returns_proxy", () => hostile());
    const throws = codeTool("throws_proxy", () => {
      throw hostile();
    });
    const { broker, replies: sent, call } = brokerWith([returns, throws]);
    call(1, "returns_proxy", {});
    call(2, "throws_proxy", {});
    await replies(sent, 2);
    await delay(20);
    assert.deepEqual(
      sent.map((reply) => [reply.guestCallId, reply.ok, (reply.payload as { code?: string }).code]).sort(),
      [
        [1, false, ErrorCode.ToolError],
        [2, false, ErrorCode.ToolError],
      ],
    );
    assert.equal(broker.outstanding, 0);
    broker.close("done");
  });

  test("handler calls queued for a slot and answering at once all settle, in order, none left running", async () => {
    let running = 0;
    let most = 0;
    const slow = codeTool("slow", async () => {
      running++;
      most = Math.max(most, running);
      await delay(5);
      running--;
      return "slow";
    });
    const quick = codeTool("quick", (input) => input.n);
    const { broker, replies: sent, call } = brokerWith([slow, quick], { maxConcurrentToolCalls: 1 });
    call(1, "slow", {});
    for (let n = 2; n <= 400; n++) call(n, "quick", { n });
    await replies(sent, 400);
    assert.equal(most, 1);
    assert.deepEqual(
      sent.map((reply) => reply.guestCallId),
      Array.from({ length: 400 }, (_, i) => i + 1),
    );
    assert.equal(broker.outstanding, 0);
    // A settled handler call is not a pending one: submitting for it is an unknown call.
    assert.throws(
      () => broker.submit(broker.records[1]?.id ?? "", { value: 1 }),
      (error: unknown) => error instanceof PtcError && error.code === ErrorCode.UnknownToolCall,
    );
    broker.close("done");
  });
});
