import assert from "node:assert/strict";
import { test } from "node:test";
import { EarliestTimer } from "../../src/sandbox/earliest-timer.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("the earliest time asked wins, and the callback runs once for all of them", async () => {
  const runs: number[] = [];
  const started = performance.now();
  const timer = new EarliestTimer(() => runs.push(performance.now() - started));
  timer.in(400);
  timer.in(40);
  timer.in(200);
  await sleep(600);
  assert.equal(runs.length, 1);
  assert.ok((runs[0] ?? 0) < 400, `ran after ${runs[0]} ms`);
  // Once it ran, a later time is asked for afresh.
  timer.in(20);
  await sleep(100);
  assert.equal(runs.length, 2);
});

test("clear() cancels what was asked", async () => {
  let ran = false;
  const timer = new EarliestTimer(() => {
    ran = true;
  });
  timer.in(20);
  timer.clear();
  await sleep(80);
  assert.equal(ran, false);
});
