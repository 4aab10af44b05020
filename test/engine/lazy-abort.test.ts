import assert from "node:assert/strict";
import { test } from "node:test";
import { LazyAbort } from "../../src/engine/lazy-abort.js";
import { delay, testEngine, until } from "../helpers/engine.js";

test("a lazy abort makes its signal only when asked, aborted with the first reason if it came first", () => {
  const early = new LazyAbort();
  assert.equal(early.aborted, false);
  early.abort("stopped");
  early.abort("again");
  assert.equal(early.aborted, true);
  assert.equal(early.signal.aborted, true);
  assert.equal(early.signal.reason, "stopped");
  assert.equal(early.signal, early.signal, "one signal");

  const late = new LazyAbort();
  const { signal } = late;
  const heard: unknown[] = [];
  signal.addEventListener("abort", () => heard.push(signal.reason));
  late.abort("later");
  late.abort("again");
  assert.deepEqual(heard, ["later"]);
  assert.equal(late.aborted, true);
});

test("an execution cancelled while it waits for a sandbox ends cancelled at once, through the signal made for the wait", async () => {
  const engine = testEngine();
  try {
    await engine.warmUp();
    const holder = engine.execute({ code: "import time\ntime.sleep(1.5)\nprint('held')" });
    await until(() => engine.stats().running === 1, "the first execution to run");
    const waiting = engine.execute({ code: "print('never')" });
    await delay(50);
    const cancelledAt = performance.now();
    waiting.cancel("no longer needed");
    const result = await waiting.result;
    assert.equal(result.status, "cancelled");
    assert.equal(result.error?.code, "cancelled");
    assert.equal(result.stdout, "");
    // Ended by the wait's own signal: no sandbox was handed to it (none started for it, none given back).
    assert.equal(result.timings.sandboxWaitMs, 0);
    assert.ok(performance.now() - cancelledAt < 1_000, "not after the holder gave its sandbox back");
    assert.equal((await holder.result).stdout, "held\n");
  } finally {
    await engine.close();
  }
});
