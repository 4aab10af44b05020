import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { createAdmissionController } from "../../../src/server/admission.js";
import { createServerApp } from "../../../src/server/http/create-server-app.js";
import { ResourceOwners, runAsOwner } from "../../../src/server/resource-owners.js";
import { testEngine } from "../../helpers/engine.js";
import { call, clientTool, execute, KEY_A, type WireError, type WireState } from "../../helpers/server-executions.js";

const engine = testEngine();
after(() => engine.close());

describe("admission controller", () => {
  test("grants up to maxRunningExecutions at once, queues FIFO, refuses past the queue with a 429", async () => {
    // One key with the whole server to itself (per-key shares equal to the caps): plain FIFO.
    const admission = createAdmissionController({
      maxRunningExecutions: 2,
      maxQueuedExecutions: 2,
      maxRunningExecutionsPerKey: 2,
      maxQueuedExecutionsPerKey: 2,
      retryAfterSeconds: 7,
    });
    const caps = { maxRunning: 2, maxQueued: 2, maxRunningPerKey: 2, maxQueuedPerKey: 2 };
    const first = await admission.acquire();
    const second = admission.tryAcquire();
    assert.ok(second);
    assert.equal(admission.tryAcquire(), undefined);
    const order: string[] = [];
    const third = admission.acquire().then((release) => {
      order.push("third");
      return release;
    });
    const fourth = admission.acquire().then((release) => {
      order.push("fourth");
      return release;
    });
    assert.deepEqual(admission.stats(), { running: 2, queued: 2, ...caps });
    assert.throws(
      () => admission.acquire(),
      (error: unknown) =>
        PtcError.is(error, ErrorCode.Overloaded) && error.code === "overloaded" && error.retryAfterSeconds === 7,
    );
    first();
    first(); // idempotent: frees one slot only
    const releaseThird = await third;
    assert.deepEqual(order, ["third"]);
    assert.equal(admission.stats().running, 2);
    // A waiter is queued: tryAcquire never overtakes it, even with a slot about to free.
    second();
    const releaseFourth = await fourth;
    assert.deepEqual(order, ["third", "fourth"]);
    releaseThird();
    releaseFourth();
    assert.deepEqual(admission.stats(), { running: 0, queued: 0, ...caps });
  });

  test("per-key shares: a key at its running quota waits without holding up other keys; its share of the queue is a 429 of its own", async () => {
    const admission = createAdmissionController({
      maxRunningExecutions: 4,
      maxQueuedExecutions: 4,
      retryAfterSeconds: 3,
    });
    assert.deepEqual(admission.stats(), {
      running: 0,
      queued: 0,
      maxRunning: 4,
      maxQueued: 4,
      maxRunningPerKey: 2,
      maxQueuedPerKey: 2,
    });
    const b1 = admission.tryAcquire("B");
    const b2 = await admission.acquire(undefined, "B");
    assert.ok(b1);
    assert.equal(admission.tryAcquire("B"), undefined, "B holds its share; two slots are still free");
    const order: string[] = [];
    const waitFor = (owner: string, name: string) =>
      admission.acquire(undefined, owner).then((release) => {
        order.push(name);
        return release;
      });
    const b3 = waitFor("B", "b3");
    const b4 = waitFor("B", "b4");
    assert.throws(
      () => admission.acquire(undefined, "B"),
      (error: unknown) =>
        PtcError.is(error, ErrorCode.KeyQueueQuotaExceeded) &&
        error.code === "key_queue_quota_exceeded" &&
        error.retryAfterSeconds === 3,
    );
    // B's waiters do not hold up A: the free slots are A's at once, past B's queue.
    const a1 = admission.tryAcquire("A");
    assert.ok(a1, "A gets a free slot although B has waiters");
    const a2 = await admission.acquire(undefined, "A");
    assert.deepEqual(admission.stats().running, 4);
    // The server's queue full is `overloaded`, whatever the key.
    const c1 = waitFor("C", "c1");
    assert.equal(admission.stats().queued, 3);
    const a3 = waitFor("A", "a3");
    assert.throws(
      () => admission.acquire(undefined, "D"),
      (error: unknown) => PtcError.is(error, ErrorCode.Overloaded),
    );
    // Queued: b3, b4 (B holds 2), c1 (C holds 0), a3 (A holds 2). A's slot frees: C, holding none, goes
    // first although B queued earlier (B is at its quota); then A's own waiter (A is back under its quota).
    a1();
    const releaseC1 = await c1;
    a2();
    const releaseA3 = await a3;
    assert.deepEqual(order, ["c1", "a3"]);
    // B's slots free: B's waiters, in order.
    b1();
    b2();
    const [releaseB3, releaseB4] = await Promise.all([b3, b4]);
    assert.deepEqual(order, ["c1", "a3", "b3", "b4"]);
    for (const release of [releaseC1, releaseA3, releaseB3, releaseB4]) release();
    assert.equal(admission.stats().running, 0);
  });

  test("a freed slot goes to the key holding the fewest (the oldest waiter among equals): keys take turns", async () => {
    const admission = createAdmissionController({
      maxRunningExecutions: 2,
      maxQueuedExecutions: 12,
      maxRunningExecutionsPerKey: 2,
    });
    const held = new Map<string, () => void>();
    held.set("A-first", await admission.acquire(undefined, "A"));
    held.set("A-second", await admission.acquire(undefined, "A"));
    const order: string[] = [];
    for (const [owner, name] of [
      ["B", "B0"],
      ["B", "B1"],
      ["B", "B2"],
      ["C", "C3"],
      ["C", "C4"],
      ["A", "A5"],
    ] as const) {
      void admission.acquire(undefined, owner).then((release) => {
        order.push(name);
        held.set(name, release);
      });
    }
    for (const name of ["A-first", "A-second", "B0", "C3", "B1", "C4", "B2", "A5"]) {
      const before = order.length;
      held.get(name)?.();
      await new Promise((resolve) => setImmediate(resolve));
      if (name !== "A5") assert.equal(order.length, Math.min(before + 1, 6), `a slot freed by ${name} was granted`);
    }
    // FIFO would have served B0 B1 B2 C3 C4 A5: B's burst first.
    assert.deepEqual(order, ["B0", "C3", "B1", "C4", "B2", "A5"]);
    assert.equal(admission.stats().running, 0);
  });

  test("the owner defaults to the request's (runAsOwner, set by authentication), else one shared unowned key", async () => {
    const admission = createAdmissionController({ maxRunningExecutions: 2, maxQueuedExecutions: 2 });
    const asA = runAsOwner("A", () => admission.tryAcquire());
    assert.ok(asA);
    assert.equal(
      runAsOwner("A", () => admission.tryAcquire()),
      undefined,
      "A holds its share (1 of 2)",
    );
    const asB = admission.tryAcquire("B");
    assert.ok(asB, "an explicit owner");
    asA();
    const unowned = admission.tryAcquire();
    assert.ok(unowned);
    assert.equal(admission.tryAcquire(), undefined, "unowned acquisitions share one key's quota");
    unowned();
    asB();
  });

  test("aborting a queued waiter removes it; close refuses waiters and new acquisitions with shutting_down", async () => {
    const admission = createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 4 });
    const held = await admission.acquire();
    const abort = new AbortController();
    const leaving = admission.acquire(abort.signal);
    const staying = admission.acquire();
    abort.abort(new Error("client left"));
    await assert.rejects(leaving, /client left/);
    assert.equal(admission.stats().queued, 1);
    admission.close();
    await assert.rejects(staying, (error: unknown) => PtcError.is(error, ErrorCode.ShuttingDown));
    assert.throws(
      () => admission.acquire(),
      (error: unknown) => PtcError.is(error, ErrorCode.ShuttingDown) && error.code === "shutting_down",
    );
    held(); // a slot held before close is still given back
    assert.equal(admission.stats().running, 0);
  });
});

describe("ptc serve: admission and retention", () => {
  test("past the running cap and the queue, 429 with Retry-After", async () => {
    const small = createServerApp({
      engine,
      owners: new ResourceOwners(),
      apiKeys: [KEY_A],
      admission: createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 1 }),
    });
    try {
      const running = await execute(small, { code: "await lookup()", tools: [clientTool("lookup")] });
      assert.equal(running.status, "paused");
      const queued = await execute(small, { code: "print('queued ran')", wait: 0 });
      assert.equal(queued.status, "queued");
      const refused = await call(small, "POST", "/v1/executions", { code: "print(1)" });
      assert.equal(refused.status, 429);
      assert.equal((refused.json as WireError).error.type, "rate_limit_error");
      assert.equal((refused.json as WireError).error.code, "overloaded");
      assert.equal(refused.headers.get("retry-after"), "2");
      // An unknown container is a 404 even when full: nothing about the request could ever succeed.
      const unknown = await call(small, "POST", "/v1/executions", { code: "1", container: "ctr_nope" });
      assert.equal(unknown.status, 404);
      // Answering the running one frees its slot; the queued one then runs.
      const callId = running.pending_tool_calls[0]?.id;
      await call(small, "POST", `/v1/executions/${running.id}/tool_results`, {
        results: [{ call_id: callId, content: 1 }],
      });
      const ran = await call(small, "GET", `/v1/executions/${queued.id}?wait=30`);
      assert.equal((ran.json as WireState).result?.stdout, "queued ran\n");
    } finally {
      await small.shutdown(0);
    }
  });

  test("graceful shutdown: paused executions may still be answered in the grace period, the rest are cancelled", async () => {
    const closing = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A] });
    const answered = await execute(closing, { code: "print(await lookup())", tools: [clientTool("lookup")] });
    const abandoned = await execute(closing, { code: "await lookup()", tools: [clientTool("lookup")] });
    const shutdown = closing.shutdown(1_000);
    const refused = await call(closing, "POST", "/v1/executions", { code: "print(1)" });
    assert.equal(refused.status, 503);
    assert.equal((refused.json as WireError).error.code, "shutting_down");
    assert.equal((await call(closing, "GET", "/health", undefined, {})).status, 503);
    const callId = answered.pending_tool_calls[0]?.id;
    const submitted = await call(closing, "POST", `/v1/executions/${answered.id}/tool_results`, {
      results: [{ call_id: callId, content: "late but fine" }],
    });
    assert.equal((submitted.json as WireState).result?.stdout, "late but fine\n");
    await shutdown;
    const state = await call(closing, "GET", `/v1/executions/${abandoned.id}`);
    assert.equal((state.json as WireState).status, "cancelled");
  });

  test("one admission controller for the server: slots held elsewhere (e.g. /v1/messages) queue this API", async () => {
    const admission = createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 1 });
    const shared = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A], admission });
    try {
      assert.equal(shared.admission, admission);
      const heldByMessages = await admission.acquire();
      const queued = await execute(shared, { code: "print('after messages')", wait: 0 });
      assert.equal(queued.status, "queued");
      const refused = await call(shared, "POST", "/v1/executions", { code: "print(1)" });
      assert.equal(refused.status, 429);
      // While this API's execution waits, another endpoint is refused as well: one queue.
      assert.throws(
        () => admission.acquire(),
        (error: unknown) => PtcError.is(error, ErrorCode.Overloaded),
      );
      const health = await call(shared, "GET", "/health", undefined, {});
      const report = health.json as { admission: { running: number; queued: number; max_running: number } };
      assert.deepEqual(report.admission, {
        running: 1,
        queued: 1,
        max_running: 1,
        max_queued: 1,
        max_running_per_key: 1,
        max_queued_per_key: 1,
      });
      heldByMessages();
      const ran = await call(shared, "GET", `/v1/executions/${queued.id}?wait=30`);
      assert.equal((ran.json as WireState).result?.stdout, "after messages\n");
      assert.equal(admission.stats().running, 0, "the finished execution gave its slot back");
    } finally {
      await shared.shutdown(0);
    }
  });

  test("cancelling a queued execution takes it out of the queue and leaks no slot", async () => {
    const admission = createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 1 });
    const app = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A], admission });
    try {
      const running = await execute(app, { code: "await lookup()", tools: [clientTool("lookup")] });
      const queued = await execute(app, { code: "print('never')", wait: 0 });
      const cancelled = await call(app, "DELETE", `/v1/executions/${queued.id}`);
      assert.equal((cancelled.json as WireState).status, "cancelled");
      assert.deepEqual(admission.stats(), {
        running: 1,
        queued: 0,
        maxRunning: 1,
        maxQueued: 1,
        maxRunningPerKey: 1,
        maxQueuedPerKey: 1,
      });
      await call(app, "DELETE", `/v1/executions/${running.id}`);
      assert.equal(admission.stats().running, 0);
    } finally {
      await app.shutdown(0);
    }
  });

  test("executions waiting for a busy container hold no slot: one paused container cannot block the server", async () => {
    const admission = createAdmissionController({
      maxRunningExecutions: 2,
      maxQueuedExecutions: 4,
      maxRunningExecutionsPerKey: 2,
    });
    const app = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A], admission });
    try {
      const paused = await execute(app, {
        code: "x = await lookup()\nprint('first', x)",
        tools: [clientTool("lookup")],
      });
      assert.equal(paused.status, "paused");
      const container = paused.container_id;
      const behind = await Promise.all(
        ["second", "third"].map((word) => execute(app, { code: `print('${word}')`, container, wait: 0 })),
      );
      assert.ok(behind.every((state) => state.status === "queued"));
      assert.equal(admission.stats().running, 1, "only the paused execution holds a slot");
      // Another container still gets the free slot at once.
      const elsewhere = await execute(app, { code: "print('elsewhere')" });
      assert.equal(elsewhere.result?.stdout, "elsewhere\n");
      await call(app, "POST", `/v1/executions/${paused.id}/tool_results`, {
        results: [{ call_id: paused.pending_tool_calls[0]?.id, content: "ok" }],
      });
      const outputs: string[] = [];
      for (const state of behind) {
        const ran = await call(app, "GET", `/v1/executions/${state.id}?wait=30`);
        outputs.push((ran.json as WireState).result?.stdout ?? "");
      }
      assert.deepEqual(outputs, ["second\n", "third\n"], "they ran in order, in the same container");
      assert.equal(admission.stats().running, 0);
    } finally {
      await app.shutdown(0);
    }
  });

  test("finished executions are retained within a byte budget: the oldest are dropped past it", async () => {
    const app = createServerApp({
      engine,
      owners: new ResourceOwners(),
      apiKeys: [KEY_A],
      executions: { maxFinishedBytes: 30_000 },
    });
    try {
      const first = await execute(app, { code: "print('a' * 10_000)" });
      assert.equal((await call(app, "GET", `/v1/executions/${first.id}`)).status, 200);
      const second = await execute(app, { code: "print('b' * 10_000)" });
      assert.equal((await call(app, "GET", `/v1/executions/${second.id}`)).status, 200);
      const gone = await call(app, "GET", `/v1/executions/${first.id}`);
      assert.equal(gone.status, 404);
      assert.equal((gone.json as WireError).error.code, "not_found");
      assert.equal(app.store.stats().finished, 1);
    } finally {
      await app.shutdown(0);
    }
  });
});
