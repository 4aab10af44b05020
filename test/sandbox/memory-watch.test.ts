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
