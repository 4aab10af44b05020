import assert from "node:assert/strict";
import { availableParallelism, cpus } from "node:os";
import { test } from "node:test";
import { MachineCpu } from "../../src/sandbox/machine-cpu.js";

test("busy cores: unknown until a window has passed, then at least the core this test keeps busy", () => {
  const start = performance.now();
  const machine = new MachineCpu(start);
  assert.equal(machine.busyCores(start + 10), undefined, "no window yet");
  // Spin one core for 400 ms: whatever runs instead of this loop keeps a core busy too.
  while (performance.now() - start < 400) {}
  const busy = machine.busyCores();
  assert.ok(busy !== undefined && busy >= 0.8, `busy cores ${busy}`);
  assert.ok(busy <= cpus().length + 0.01, `busy cores ${busy} of ${cpus().length}`);
  assert.equal(machine.busyCores(), busy, "within the next window: the latest figure");
  assert.ok(availableParallelism() >= 1);
});
