import assert from "node:assert/strict";
import { test } from "node:test";
import { StartPacing } from "../../src/sandbox/pool-start-pacing.js";

/** A pacing whose estimates have settled: starts of `startMs`, resets of `resetMs`, lends of `lends`. */
function settled(startMs: number, resetMs: number, lends: number[]): StartPacing {
  const pacing = new StartPacing();
  for (let index = 0; index < 60; index++) {
    pacing.started(startMs);
    pacing.reset(resetMs);
  }
  for (const lend of lends) pacing.returned(lend);
  return pacing;
}

const NOW = 100_000;

test("before any sandbox came back, nothing lent is counted on", () => {
  const forecast = new StartPacing().forecast([NOW, NOW], NOW);
  assert.deepEqual(forecast, { served: 0, returning: 0, recheckInMs: undefined });
});

test("each lent sandbox serves a waiter per lend and reset until a start made now would be ready", () => {
  const pacing = settled(1_100, 200, [50, 50, 50]);
  // Back at +50, reset by +250, then one every 250 ms: +250, +500, +750, +1000, 4 before a start at +1100.
  const forecast = pacing.forecast([NOW, NOW, NOW, NOW], NOW);
  assert.equal(forecast.served, 16);
  assert.equal(forecast.returning, 4);
  // Overdue after 3 usual lends, at least a start's duration, and a reset.
  assert.ok(Math.abs((forecast.recheckInMs ?? 0) - 1_300) < 1, String(forecast.recheckInMs));
});

test("a sandbox out far longer than usual is not counted on: a long script, or a container's", () => {
  const pacing = settled(1_100, 200, [50, 50, 50]);
  const forecast = pacing.forecast([NOW - 5_000, NOW - 100, NOW - 1_400], NOW);
  assert.equal(forecast.returning, 1);
  assert.equal(forecast.served, 4, "only the one lent 100 ms ago, due back now");
});

test("lends longer than a start are counted on to come back, but serve no waiter before a start would", () => {
  const pacing = settled(1_000, 200, [30_000]);
  const { served, returning, recheckInMs } = pacing.forecast([NOW], NOW);
  assert.deepEqual([served, returning], [0, 1]);
  assert.ok(Math.abs((recheckInMs ?? 0) - 90_200) < 1, String(recheckInMs));
});

test("the usual lend is the median of the latest: a few containers' long lends do not move it", () => {
  const pacing = settled(1_000, 200, [...Array(10).fill(40), 60_000, 120_000, 90_000]);
  assert.equal(pacing.usualLendMs(), 40);
  for (let index = 0; index < 16; index++) pacing.returned(70_000);
  assert.equal(pacing.usualLendMs(), 70_000, "only the latest 16 count");
});

test("recycling saturates the cores when as many sandboxes as cores serve lends no longer than a reset", () => {
  assert.equal(new StartPacing().recyclingSaturates(8, 2), false, "no lend seen yet");
  // Short executions (50 ms lends against 200 ms resets): one sandbox a core or more keeps them all busy.
  const short = settled(1_100, 200, [50, 40, 60]);
  assert.equal(short.recyclingSaturates(2, 2), true);
  assert.equal(short.recyclingSaturates(4, 2), true);
  assert.equal(short.recyclingSaturates(1, 2), false, "a core left idle: a start would use it");
  assert.equal(short.recyclingSaturates(4, 8), false);
  // Lends longer than a reset (tool calls waited on, containers keeping their sandbox): sandboxes, not cores, bound.
  assert.equal(settled(1_100, 200, [900, 800, 1_000]).recyclingSaturates(16, 2), false);
});

test("longer lends saturate the cores when the machine's cores are measured busy", () => {
  const long = settled(1_100, 200, [300, 250, 400]);
  assert.equal(long.recyclingSaturates(16, 2, 1.9), true, "both cores busy");
  assert.equal(long.recyclingSaturates(16, 2, 1.5), false, "a core partly idle: a start would use it");
  assert.equal(long.recyclingSaturates(16, 2, undefined), false, "not measured yet");
  assert.equal(long.recyclingSaturates(1, 2, 2), false, "fewer sandboxes than cores");
  assert.equal(new StartPacing().recyclingSaturates(16, 2, 2), false, "no lend seen yet");
  // Lends longer than a start (long scripts, perhaps one key's spinning ones): a waiter is not held for them.
  assert.equal(settled(1_100, 200, [5_000, 4_000, 6_000]).recyclingSaturates(16, 2, 2), false);
});
