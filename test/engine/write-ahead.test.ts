import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Journal } from "../../src/engine/journal.js";
import { ToolCallBroker, type ToolCallEvent } from "../../src/engine/tool-call-broker.js";
import type { WriteAhead, WriteAheadCall, WriteAheadResult } from "../../src/engine/write-ahead.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import { resolveLimits } from "../../src/protocol/limits.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { codeTool, delay } from "../helpers/engine.js";

/** A write-ahead the test completes by hand: each write waits until `release()`. */
class ManualWriteAhead implements WriteAhead {
  readonly log: string[] = [];
  readonly #pending: Array<{ done: () => void; fail: (error: unknown) => void }> = [];
  call(call: WriteAheadCall): Promise<void> {
    return this.#write(`call ${call.guestCallId} ${call.tool}`);
  }
  result(result: WriteAheadResult): Promise<void> {
    return this.#write(`result ${result.guestCallId} ${result.outcome.ok ? "ok" : result.outcome.error.code}`);
  }
  get waiting(): number {
    return this.#pending.length;
  }
  release(): void {
    this.#pending.shift()?.done();
  }
  /** Releases writes one by one as they come (each starts once the one before it is done), `count` in all. */
  async releaseNext(count: number): Promise<void> {
    for (let released = 0; released < count; released++) {
      await until(() => this.#pending.length > 0);
      this.release();
    }
  }
  async failNext(error: unknown): Promise<void> {
    await until(() => this.#pending.length > 0);
    this.#pending.shift()?.fail(error);
  }
  #write(what: string): Promise<void> {
    this.log.push(what);
    return new Promise((done, fail) => this.#pending.push({ done, fail }));
  }
}

function brokerWith(tools: ToolDefinition[], writeAhead: WriteAhead) {
  const replies: Array<{ guestCallId: number; ok: boolean }> = [];
  const events: ToolCallEvent[] = [];
  const failures: unknown[] = [];
  const broker = new ToolCallBroker({
    executionId: "exec_test",
    containerId: "container_test",
    registry: ToolRegistry.from(tools, { servesDirectCalls: true }),
    limits: resolveLimits({}),
    journal: new Journal("exec_test"),
    writeAhead,
    onWriteFailed: (error) => failures.push(error),
    port: { reply: (guestCallId, ok) => replies.push({ guestCallId, ok }) },
    emit: (event) => events.push(event),
  });
  return { broker, replies, events, failures };
}

const ask: ToolDefinition = { name: "ask", inputSchema: { type: "object" }, allowedCallers: ["code_execution"] };

async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check() && waited < 2000; waited += 2) await delay(2);
  assert.ok(check(), "timed out");
}

describe("write-ahead through the broker", () => {
  test("a handler runs only once its call is durable, and its outcome reaches the sandbox once that is", async () => {
    let runs = 0;
    const echo = codeTool("echo", () => {
      runs++;
      return "echoed";
    });
    const writes = new ManualWriteAhead();
    const { broker, replies } = brokerWith([echo], writes);
    broker.handleGuestCall(1, "echo", "{}");
    await delay(10);
    assert.equal(runs, 0, "dispatched before its write committed");
    writes.release();
    await until(() => runs === 1);
    await until(() => writes.waiting === 1);
    assert.deepEqual(replies, [], "the outcome reached the sandbox before its write committed");
    writes.release();
    await until(() => replies.length === 1);
    assert.deepEqual(writes.log, ["call 1 echo", "result 1 ok"]);
    await broker.whenDurable();
  });

  test("a call for the client is reported pending, and answerable, only once it is durable", async () => {
    const writes = new ManualWriteAhead();
    const { broker, events } = brokerWith([ask], writes);
    broker.handleGuestCall(1, "ask", '{"q": 1}');
    await delay(10);
    assert.deepEqual(broker.pending(), []);
    assert.equal(events.filter((event) => event.type === "tool-call").length, 0);
    writes.release();
    await until(() => broker.pending().length === 1);
    const [pending] = broker.pending();
    assert.ok(pending);
    assert.equal(broker.submit(pending.id, { value: "yes" }), "accepted");
    let durable = false;
    void broker.whenDurable().then(() => (durable = true));
    await delay(10);
    assert.equal(durable, false, "whenDurable resolved before the result's write");
    writes.release();
    await until(() => durable);
  });

  test("outcomes reach the sandbox in the order they were written, whatever order their writes are released in", async () => {
    const writes = new ManualWriteAhead();
    const { broker, replies } = brokerWith([ask], writes);
    broker.handleGuestCall(1, "ask", "{}");
    broker.handleGuestCall(2, "ask", "{}");
    await writes.releaseNext(2);
    await until(() => broker.pending().length === 2);
    const [first, second] = broker.pending();
    assert.ok(first && second);
    broker.submit(second.id, { value: "b" });
    broker.submit(first.id, { value: "a" });
    await writes.releaseNext(2);
    await until(() => replies.length === 2);
    assert.deepEqual(
      replies.map((reply) => reply.guestCallId),
      [2, 1],
    );
    assert.deepEqual(writes.log, ["call 1 ask", "call 2 ask", "result 2 ok", "result 1 ok"]);
  });

  test("a failed write stops everything after it: nothing is dispatched or delivered, and the execution is told", async () => {
    let runs = 0;
    const echo = codeTool("echo", () => {
      runs++;
      return "echoed";
    });
    const writes = new ManualWriteAhead();
    const { broker, replies, failures } = brokerWith([echo], writes);
    broker.handleGuestCall(1, "echo", "{}");
    broker.handleGuestCall(2, "echo", "{}");
    await writes.failNext(new PtcError(ErrorCode.StoreUnavailable, "the database is down"));
    await until(() => failures.length === 1);
    await delay(20);
    assert.equal(writes.waiting, 0, "a write after the failed one was started");
    assert.equal(runs, 0);
    assert.deepEqual(replies, []);
    assert.ok(PtcError.is(failures[0], ErrorCode.StoreUnavailable));
  });
});
