import assert from "node:assert/strict";
import { after, before } from "node:test";
import type { Engine } from "../../src/engine/engine.js";
import type { ExecutionResult } from "../../src/protocol/execution.js";
import { isAlive } from "../adversarial/harness.js";
import { delay, testEngine } from "./engine.js";

// Which executions give their sandbox back to the pool (a reset, then another one-off execution) and which
// end it: only a one-off execution that completed or raised, with no limit hit, stop or fault. The cases
// are spread over three files (test/engine/container-recycling*.test.ts) because each killed sandbox costs a
// new start, several seconds under CI's load, and one file of all of them overran the per-file timeout.

export interface RecyclingHarness {
  readonly engine: Engine;
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** The pid of the one warm sandbox, which the next one-off execution takes. */
  nextSandbox(): Promise<number>;
  /** Runs `code` as a one-off execution and reports whether its sandbox was recycled or killed. */
  fate(
    code: string,
    options?: { limits?: Record<string, number>; cancelAfterMs?: number },
  ): Promise<{ result: ExecutionResult; recycled: boolean }>;
}

/** An engine with a pool of one (registered with the file's before/after hooks) and the cases' helpers. */
export function recyclingHarness(): RecyclingHarness {
  let current: Engine | undefined;
  before(async () => {
    // A short idleMs: sandboxes beyond the one warm are trimmed soon, so each case knows which one it gets.
    current = testEngine({ pool: { size: 1, idleMs: 1_000 } });
    await current.warmUp();
  });
  after(() => current?.close());
  const engineNow = (): Engine => {
    assert.ok(current, "the harness's engine starts in before()");
    return current;
  };
  const until = async (condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline)
        assert.fail(
          `timed out waiting for ${what}: ${JSON.stringify(engineNow().stats())} ${engineNow().sandboxPids()}`,
        );
      await delay(20);
    }
  };
  const nextSandbox = async (): Promise<number> => {
    const engine = engineNow();
    await engine.warmUp();
    await until(() => engine.sandboxPids().length === 1, "one sandbox alive: the warm one");
    const [pid] = engine.sandboxPids();
    assert.ok(pid !== undefined);
    return pid;
  };
  return {
    get engine() {
      return engineNow();
    },
    until,
    nextSandbox,
    async fate(code, options = {}) {
      const engine = engineNow();
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
    },
  };
}
