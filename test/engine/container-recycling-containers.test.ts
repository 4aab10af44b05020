import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isAlive } from "../adversarial/harness.js";
import { recyclingHarness } from "../helpers/recycling.js";

const harness = recyclingHarness();

describe("containers: recycled only when released clean, never while they live", () => {
  test("a container evicted or released while idle, with only clean executions, gives its sandbox back", async () => {
    await harness.nextSandbox();
    const recycledBefore = harness.engine.stats().pool.recycled;
    assert.equal(
      (await harness.engine.execute({ code: "state = 'of c1'", container: "c1" }).result).status,
      "completed",
    );
    const pid = harness.engine.inspectContainer("c1")?.sandboxPid;
    assert.ok(pid !== undefined);
    assert.equal(harness.engine.containers.release("c1"), true);
    await harness.until(
      () => harness.engine.stats().pool.recycled > recycledBefore,
      "the released container's sandbox to be reset",
    );
    assert.ok(isAlive(pid), "the same process, reset");
    const next = await harness.engine.execute({ code: "print('state' in globals())", container: "c2" }).result;
    assert.equal(next.stdout, "False\n");
    harness.engine.closeContainer("c2");
  });

  test("a container whose sandbox saw a limit hit is killed when released, not recycled", async () => {
    await harness.nextSandbox();
    const recycledBefore = harness.engine.stats().pool.recycled;
    const limited = await harness.engine.execute({
      code: "print('x' * 10_000)",
      container: "c3",
      limits: { maxOutputBytes: 100 },
    }).result;
    assert.ok(limited.limitsHit.length > 0);
    assert.equal((await harness.engine.execute({ code: "pass", container: "c3" }).result).status, "completed");
    const pid = harness.engine.inspectContainer("c3")?.sandboxPid;
    assert.ok(pid !== undefined);
    harness.engine.containers.release("c3");
    await harness.until(() => !isAlive(pid), "the released container's sandbox to die");
    assert.equal(harness.engine.stats().pool.recycled, recycledBefore);
  });

  test("a named container's sandbox is never recycled: ending the container kills it", async () => {
    const pid = await harness.nextSandbox();
    const recycledBefore = harness.engine.stats().pool.recycled;
    const result = await harness.engine.execute({ code: "x = 1", container: "kept" }).result;
    assert.equal(result.status, "completed");
    assert.equal(harness.engine.inspectContainer("kept")?.sandboxPid, pid, "the container holds the sandbox");
    assert.equal((await harness.engine.execute({ code: "print(x)", container: "kept" }).result).stdout, "1\n");
    harness.engine.closeContainer("kept");
    await harness.until(() => !isAlive(pid), "the container's sandbox to die");
    assert.equal(harness.engine.stats().pool.recycled, recycledBefore);
  });
});
