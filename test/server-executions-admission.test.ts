import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AdmissionRefusedError, createAdmissionController } from "../src/server/admission.js";
import { HttpError } from "../src/server/http/wire-errors.js";

describe("admission controller", () => {
  test("grants up to maxRunning at once, queues FIFO, refuses past the queue with a 429", async () => {
    const admission = createAdmissionController({ maxRunning: 2, maxQueued: 2, retryAfterSeconds: 7 });
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
    assert.deepEqual(admission.stats(), { running: 2, queued: 2, maxRunning: 2, maxQueued: 2 });
    assert.throws(
      () => admission.acquire(),
      (error: unknown) =>
        error instanceof AdmissionRefusedError &&
        error instanceof HttpError &&
        error.status === 429 &&
        error.code === "overloaded" &&
        error.retryAfterSeconds === 7 &&
        error.headers["retry-after"] === "7",
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
    assert.deepEqual(admission.stats(), { running: 0, queued: 0, maxRunning: 2, maxQueued: 2 });
  });

  test("aborting a queued waiter removes it; close refuses waiters and new acquisitions with 503", async () => {
    const admission = createAdmissionController({ maxRunning: 1, maxQueued: 4 });
    const held = await admission.acquire();
    const abort = new AbortController();
    const leaving = admission.acquire(abort.signal);
    const staying = admission.acquire();
    abort.abort(new Error("client left"));
    await assert.rejects(leaving, /client left/);
    assert.equal(admission.stats().queued, 1);
    admission.close();
    await assert.rejects(staying, (error: unknown) => error instanceof AdmissionRefusedError && error.status === 503);
    assert.throws(
      () => admission.acquire(),
      (error: unknown) => error instanceof HttpError && error.code === "shutting_down",
    );
    held(); // a slot held before close is still given back
    assert.equal(admission.stats().running, 0);
  });
});
