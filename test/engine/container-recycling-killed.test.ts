import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { recyclingHarness } from "../helpers/recycling.js";

const harness = recyclingHarness();

describe("one-off executions: sandboxes that are killed, not recycled", () => {
  test("an execution that hit a limit is not recycled, even when it completed (output cap)", async () => {
    const { result, recycled } = await harness.fate("print('x' * 10_000)", { limits: { maxOutputBytes: 100 } });
    assert.equal(result.status, "completed");
    assert.ok(result.limitsHit.length > 0, JSON.stringify(result.limitsHit));
    assert.equal(recycled, false);
  });

  test("a timed-out execution's sandbox is killed", async () => {
    const { result, recycled } = await harness.fate("while True: pass", { limits: { wallTimeoutMs: 500 } });
    assert.equal(result.error?.code, "wall_timeout");
    assert.equal(recycled, false);
  });

  test("a cancelled execution's sandbox is killed", async () => {
    const { result, recycled } = await harness.fate("import time\ntime.sleep(30)", { cancelAfterMs: 300 });
    assert.equal(result.status, "cancelled");
    assert.equal(recycled, false);
  });
});
