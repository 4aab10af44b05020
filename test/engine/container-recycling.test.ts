import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Engine } from "../../src/engine/engine.js";
import type { ExecutionResult } from "../../src/protocol/execution.js";
import { isAlive } from "../adversarial/harness.js";
import { delay, testEngine } from "../helpers/engine.js";

// Which executions give their sandbox back to the pool (a reset, then another one-off execution) and which
// end it: only a one-off execution that completed or raised, with no limit hit, stop or fault.

let engine: Engine;
before(async () => {
  // A short idleMs: sandboxes beyond the one warm are trimmed soon, so each case knows which one it gets.
  engine = testEngine({ pool: { size: 1, idleMs: 1_000 } });
  await engine.warmUp();
});
after(() => engine.close());

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      assert.fail(`timed out waiting for ${what}: ${JSON.stringify(engine.stats())} ${engine.sandboxPids()}`);
    await delay(20);
  }
}

/** The pid of the one warm sandbox, which the next one-off execution takes. */
async function nextSandbox(): Promise<number> {
  await engine.warmUp();
  await until(() => engine.sandboxPids().length === 1, "one sandbox alive: the warm one");
  const [pid] = engine.sandboxPids();
  assert.ok(pid !== undefined);
  return pid;
}

/** Runs `code` as a one-off execution and reports whether its sandbox was recycled or killed. */
async function fate(
  code: string,
  options: { limits?: Record<string, number>; cancelAfterMs?: number } = {},
): Promise<{ result: ExecutionResult; recycled: boolean }> {
  const pid = await nextSandbox();
  const recycledBefore = engine.stats().pool.recycled;
  const execution = engine.execute({ code, ...(options.limits ? { limits: options.limits } : {}) });
  if (options.cancelAfterMs !== undefined) setTimeout(() => execution.cancel(), options.cancelAfterMs);
  const result = await execution.result;
  // Either the reset completes (the same process back warm) or the process dies.
  await until(
    () => engine.stats().pool.recycled > recycledBefore || !isAlive(pid),
    "the sandbox to be recycled or killed",
  );
  const recycled = engine.stats().pool.recycled > recycledBefore;
  assert.equal(isAlive(pid), recycled, recycled ? "a recycled sandbox is the same process" : "killed");
  return { result, recycled };
}

describe("one-off executions: recycled sandboxes", () => {
  test("a completed execution's sandbox is reset and serves the next one, which sees none of its state", async () => {
    const first = await fate('import builtins\nsecret = 1\nbuiltins.leak = "x"\nprint("ok")');
    assert.equal(first.result.status, "completed");
    assert.equal(first.recycled, true);
    const pid = await nextSandbox();
    const next = await engine.execute({
      code: 'import builtins\nprint("secret" in globals(), hasattr(builtins, "leak"))',
    }).result;
    assert.equal(next.stdout, "False False\n");
    assert.ok(isAlive(pid));
  });

  test("cancelling an execution after its result does not kill the sandbox it gave back", async () => {
    const pid = await nextSandbox();
    const execution = engine.execute({ code: "print('done')" });
    assert.equal((await execution.result).status, "completed");
    execution.cancel();
    await engine.warmUp();
    assert.ok(isAlive(pid), "the recycled sandbox lives on");
    assert.equal((await engine.execute({ code: "print(2)" }).result).stdout, "2\n");
  });

  test("an execution that raised (a guest exception, no limit) is recycled too", async () => {
    const { result, recycled } = await fate("raise ValueError('no')");
    assert.equal(result.status, "failed");
    assert.equal(result.error?.type, "ValueError");
    assert.equal(recycled, true);
  });

  test("an execution that hit a limit is not recycled, even when it completed (output cap)", async () => {
    const { result, recycled } = await fate("print('x' * 10_000)", { limits: { maxOutputBytes: 100 } });
    assert.equal(result.status, "completed");
    assert.ok(result.limitsHit.length > 0, JSON.stringify(result.limitsHit));
    assert.equal(recycled, false);
  });

  test("a timed-out execution's sandbox is killed", async () => {
    const { result, recycled } = await fate("while True: pass", { limits: { wallTimeoutMs: 500 } });
    assert.equal(result.error?.code, "wall_timeout");
    assert.equal(recycled, false);
  });

  test("a cancelled execution's sandbox is killed", async () => {
    const { result, recycled } = await fate("import time\ntime.sleep(30)", { cancelAfterMs: 300 });
    assert.equal(result.status, "cancelled");
    assert.equal(recycled, false);
  });

  test("a container evicted or released while idle, with only clean executions, gives its sandbox back", async () => {
    await nextSandbox();
    const recycledBefore = engine.stats().pool.recycled;
    assert.equal((await engine.execute({ code: "state = 'of c1'", container: "c1" }).result).status, "completed");
    const pid = engine.inspectContainer("c1")?.sandboxPid;
    assert.ok(pid !== undefined);
    assert.equal(engine.containers.release("c1"), true);
    await until(() => engine.stats().pool.recycled > recycledBefore, "the released container's sandbox to be reset");
    assert.ok(isAlive(pid), "the same process, reset");
    const next = await engine.execute({ code: "print('state' in globals())", container: "c2" }).result;
    assert.equal(next.stdout, "False\n");
    engine.closeContainer("c2");
  });

  test("a container whose sandbox saw a limit hit is killed when released, not recycled", async () => {
    await nextSandbox();
    const recycledBefore = engine.stats().pool.recycled;
    const limited = await engine.execute({
      code: "print('x' * 10_000)",
      container: "c3",
      limits: { maxOutputBytes: 100 },
    }).result;
    assert.ok(limited.limitsHit.length > 0);
    assert.equal((await engine.execute({ code: "pass", container: "c3" }).result).status, "completed");
    const pid = engine.inspectContainer("c3")?.sandboxPid;
    assert.ok(pid !== undefined);
    engine.containers.release("c3");
    await until(() => !isAlive(pid), "the released container's sandbox to die");
    assert.equal(engine.stats().pool.recycled, recycledBefore);
  });

  test("a named container's sandbox is never recycled: ending the container kills it", async () => {
    const pid = await nextSandbox();
    const recycledBefore = engine.stats().pool.recycled;
    const result = await engine.execute({ code: "x = 1", container: "kept" }).result;
    assert.equal(result.status, "completed");
    assert.equal(engine.inspectContainer("kept")?.sandboxPid, pid, "the container holds the sandbox");
    assert.equal((await engine.execute({ code: "print(x)", container: "kept" }).result).stdout, "1\n");
    engine.closeContainer("kept");
    await until(() => !isAlive(pid), "the container's sandbox to die");
    assert.equal(engine.stats().pool.recycled, recycledBefore);
  });
});
