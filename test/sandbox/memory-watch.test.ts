import assert from "node:assert/strict";
import { test } from "node:test";
import { type MemoryLimitStop, MemoryWatch } from "../../src/sandbox/memory-watch.js";
import { ProcessTree } from "../../src/sandbox/process-tree.js";

// The host's memory bound on a running script's sandbox (src/sandbox/memory-watch.ts), read here on this
// test's own process tree: Linux only, as the watch itself.
const linux = process.platform === "linux";

test("a watch reads the tree when it starts, not one period later", { skip: !linux }, () => {
  const stops: MemoryLimitStop[] = [];
  const tree = new ProcessTree(process.pid);
  // A period no test waits for: only the reading at start can see the tree.
  const watch = new MemoryWatch(
    () => tree.residentBytes(),
    (stop) => stops.push(stop),
    60_000,
  );
  // Over the bound already (a container's earlier runs kept it): reported at once, and the watch stops.
  watch.start(1);
  assert.equal(stops.length, 1);
  assert.equal(stops[0]?.kind, "resident");
  assert.equal(watch.watching, false);
  // Under the bound: read (its peak known), nothing reported, still watching.
  const under = new MemoryWatch(
    () => tree.residentBytes(),
    (stop) => stops.push(stop),
    60_000,
  );
  under.start(2 ** 50);
  assert.ok(under.peakBytes > 1_000_000, `peak ${under.peakBytes}`);
  assert.equal(stops.length, 1);
  assert.equal(under.watching, true);
  under.stop();
  tree.close();
});

test("a start within a period of the latest reading reuses it, and the next reading still comes a period after it", {
  skip: !linux,
}, async () => {
  const tree = new ProcessTree(process.pid);
  const readings: number[] = [];
  const stops: MemoryLimitStop[] = [];
  const periodMs = 400;
  const watch = new MemoryWatch(
    () => {
      readings.push(performance.now());
      return tree.residentBytes();
    },
    (stop) => stops.push(stop),
    periodMs,
  );
  watch.start(2 ** 50);
  assert.equal(readings.length, 1);
  // A container's next run, back to back: the reading just taken stands.
  watch.stop();
  await new Promise((resolve) => setTimeout(resolve, 100));
  watch.start(2 ** 50);
  assert.equal(readings.length, 1, "no second reading within the period");
  assert.equal(watch.watching, true);
  // The next reading comes one period after the first, not one period after this start.
  while (readings.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const gap = (readings[1] ?? 0) - (readings[0] ?? 0);
  assert.ok(gap >= periodMs - 5 && gap < periodMs + 200, `readings ${gap.toFixed(0)} ms apart`);
  // A bound below what the latest reading found is judged at once, by a new reading.
  watch.start(1);
  assert.equal(readings.length, 3);
  assert.equal(stops.length, 1);
  assert.equal(stops[0]?.kind, "resident");
  assert.equal(watch.watching, false);
  // Once the latest reading is older than a period, a start reads again.
  await new Promise((resolve) => setTimeout(resolve, periodMs + 20));
  watch.start(2 ** 50);
  assert.equal(readings.length, 4);
  watch.stop();
  tree.close();
});
