import assert from "node:assert/strict";
import { test } from "node:test";
import { ExecutionClock } from "../../src/engine/execution-clock.js";
import { delay } from "../helpers/engine.js";

test("where CPU time is readable it is charged whatever calls are outstanding, and the clock stops for good at the end", async () => {
  let cpu = 1_000;
  const timeouts: string[] = [];
  const clock = new ExecutionClock(100, (message) => timeouts.push(message));
  clock.start(() => cpu);
  clock.outstandingChanged(1);
  cpu += 150; // the script computes beside its outstanding call
  await delay(200);
  assert.deepEqual(timeouts, ["script used more than 100 ms of CPU time"]);
  clock.outstandingChanged(0);
  clock.end();
  assert.equal(clock.activeMs, 150);
  assert.ok(clock.toolWaitMs >= 150);
});

test("without CPU time, active time is wall time with no call outstanding; nothing is left armed after end()", async () => {
  const timeouts: string[] = [];
  const clock = new ExecutionClock(150, (message) => timeouts.push(message));
  clock.start(() => undefined);
  clock.outstandingChanged(1);
  await delay(250);
  assert.deepEqual(timeouts, [], "tool waits are not active time");
  clock.outstandingChanged(2);
  clock.end();
  const before = process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
  clock.outstandingChanged(0);
  assert.equal(process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length, before);
  assert.ok(clock.activeMs < 100, String(clock.activeMs));
  assert.ok(clock.toolWaitMs >= 240, String(clock.toolWaitMs));
});
