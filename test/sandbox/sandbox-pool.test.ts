import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { SandboxPool } from "../../src/sandbox/sandbox-pool.js";
import type { SandboxPoolOptions } from "../../src/sandbox/sandbox-pool-options.js";
import type { SandboxProcess } from "../../src/sandbox/sandbox-process.js";
import { until } from "../helpers/engine.js";

// Real sandboxes (Pyodide in child processes): the pool's recycling, growth and shrinking.

const pools: SandboxPool[] = [];
// Idle and starting, the pool's sandboxes do not hold the event loop (an engine nobody closed must not keep
// the host alive); the tests await them, so something must.
const keepAlive = setInterval(() => {}, 1_000);
after(async () => {
  clearInterval(keepAlive);
  await Promise.all(pools.map((pool) => pool.close()));
});

function pool(options: SandboxPoolOptions): SandboxPool {
  const created = new SandboxPool(options);
  pools.push(created);
  return created;
}

/** Runs `code` (no tools) and returns its stdout; fails on anything but a clean end. */
async function run(sandbox: SandboxProcess, code: string): Promise<string> {
  let stdout = "";
  const outcome = await sandbox.run(
    { code, tools: [], resultMode: "text", maxOutputBytes: 100_000, memoryBytes: 512 * 1_048_576 },
    {
      onToolCall: () => assert.fail("no tool is called"),
      onOutput: (stream, text) => {
        if (stream === "stdout") stdout += text;
      },
    },
  );
  assert.equal(outcome.kind, "done", JSON.stringify(outcome));
  assert.equal(outcome.kind === "done" ? outcome.error : null, null, JSON.stringify(outcome));
  return stdout;
}

/** Each waiter in turn gets `lent` back once it ran and was recycled: the same process serves them all. */
async function servedByRecycling(
  sandboxes: SandboxPool,
  lent: SandboxProcess,
  waiting: Promise<SandboxProcess>[],
): Promise<void> {
  let current = lent;
  for (const next of waiting) {
    await run(current, "pass");
    sandboxes.recycle(current);
    const served = await next;
    assert.equal(served, current, "the recycled process");
    current = served;
  }
  current.kill();
}

const POLLUTE = `import builtins, sys
secret = "from the previous execution"
builtins.len = lambda _: 42
sys.modules["polluted"] = sys
print("polluted")`;

const CHECK = `import builtins, sys
print("secret" in globals(), len([1, 2, 3]), "polluted" in sys.modules)`;

describe("SandboxPool: recycling one-off sandboxes", () => {
  test("a recycled sandbox comes back warm, the same process, and runs the next script with a clean interpreter", async () => {
    const sandboxes = pool({ size: 1 });
    await sandboxes.warmUp();
    const first = await sandboxes.acquire();
    assert.equal(await run(first, POLLUTE), "polluted\n");
    sandboxes.recycle(first);
    assert.equal(sandboxes.stats().resetting, 1);
    await sandboxes.warmUp();
    const again = await sandboxes.acquire();
    assert.equal(again, first, "the warm sandbox is the recycled process");
    assert.equal(again.resets, 1);
    assert.equal(await run(again, CHECK), "False 3 False\n", "nothing of the previous script is left");
    const stats = sandboxes.stats();
    assert.equal(stats.recycled, 1);
    assert.equal(stats.started, 1, "no new process was started for the second script");
    again.kill();
  });

  test("a waiter is served by the sandbox being reset, without a new start", async () => {
    const sandboxes = pool({ size: 0 });
    const first = await sandboxes.acquire();
    await run(first, "x = 1");
    sandboxes.recycle(first);
    const waiting = sandboxes.acquire();
    assert.deepEqual([sandboxes.stats().waiting, sandboxes.stats().resetting], [1, 1]);
    assert.equal(sandboxes.stats().starting, 0, "the sandbox being reset will serve the waiter: no start");
    const served = await waiting;
    assert.equal(served, first);
    assert.equal(sandboxes.stats().started, 1);
    assert.equal(await run(served, "print('x' in globals())"), "False\n");
    served.kill();
  });

  test("after maxResets resets the process is retired: killed, not reset again", async () => {
    const sandboxes = pool({ size: 1, maxResets: 1 });
    const sandbox = await sandboxes.acquire();
    await run(sandbox, "pass");
    sandboxes.recycle(sandbox);
    await sandboxes.warmUp();
    assert.equal(await sandboxes.acquire(), sandbox);
    await run(sandbox, "pass");
    sandboxes.recycle(sandbox);
    await sandbox.exited;
    assert.equal(sandbox.resets, 1);
    assert.equal(sandboxes.stats().retired, 1);
    assert.equal(sandboxes.stats().recycled, 1);
  });

  test("maxResets 0: a sandbox is never reused", async () => {
    const sandboxes = pool({ size: 0, maxResets: 0 });
    const sandbox = await sandboxes.acquire();
    await run(sandbox, "pass");
    sandboxes.recycle(sandbox);
    await sandbox.exited;
    assert.equal(sandboxes.stats().recycled, 0);
  });

  test("a sandbox still running a script, or dead, is killed instead of reset", async () => {
    const sandboxes = pool({ size: 0 });
    const busy = await sandboxes.acquire();
    const running = busy.run(
      { code: "while True: pass", tools: [], resultMode: "text", maxOutputBytes: 1000, memoryBytes: 512 * 1_048_576 },
      { onToolCall: () => {}, onOutput: () => {} },
    );
    sandboxes.recycle(busy);
    assert.equal((await running).kind, "exited");
    assert.equal(sandboxes.stats().resetting, 0);
    assert.equal(sandboxes.stats().recycled, 0);
  });

  test("closing the pool during a reset kills the sandbox being reset", async () => {
    const sandboxes = pool({ size: 0 });
    const sandbox = await sandboxes.acquire();
    await run(sandbox, "pass");
    sandboxes.recycle(sandbox);
    assert.equal(sandboxes.stats().resetting, 1);
    await sandboxes.close();
    assert.equal(sandbox.alive, false);
    assert.equal(sandboxes.stats().live, 0);
    assert.equal(sandboxes.stats().warm, 0);
  });

  test("close() waits for the pipes of a sandbox that exited just before, not only for the live ones", async () => {
    const sandboxes = pool({ size: 0 });
    const sandbox = await sandboxes.acquire();
    let closed = false;
    void sandbox.closed.then(() => {
      closed = true;
    });
    sandbox.kill();
    // Out of the pool's live sandboxes from here; its pipes may still be open.
    await sandbox.exited;
    await sandboxes.close();
    assert.equal(closed, true, "the pool closed with the sandbox's pipes still on the event loop");
  });
});

describe("SandboxPool: grows with demand, shrinks when idle", () => {
  test("warm sandboxes beyond size are killed after idleMs; size stay", async () => {
    const sandboxes = pool({ size: 1, idleMs: 1_000 });
    await sandboxes.warmUp();
    const taken = await Promise.all([sandboxes.acquire(), sandboxes.acquire(), sandboxes.acquire()]);
    assert.ok(sandboxes.stats().started >= 3, "the pool grew to serve three at once");
    for (const sandbox of taken) {
      await run(sandbox, "pass");
      sandboxes.recycle(sandbox);
    }
    // Each is reset and goes warm (the first ones may already be trimmed when a loaded machine slows the last).
    await until(() => sandboxes.stats().recycled === 3, "the three sandboxes to be reset");
    await until(() => sandboxes.stats().warm === 1, "the pool to shrink back to its size", 10_000);
    // The one kept is alive and usable; the others are gone.
    await until(() => sandboxes.stats().live === 1, "the trimmed processes to exit");
    assert.ok(sandboxes.stats().trimmed >= 2);
    const kept = await sandboxes.acquire();
    assert.equal(await run(kept, "print(1)"), "1\n");
    kept.kill();
  });

  /** A pool of warm sandboxes that has seen one short lend: it knows how long executions keep one. */
  async function taughtPool(options: SandboxPoolOptions = { size: 1 }): Promise<SandboxPool> {
    const sandboxes = pool(options);
    await sandboxes.warmUp();
    const first = await sandboxes.acquire();
    await run(first, "pass");
    sandboxes.recycle(first);
    await sandboxes.warmUp();
    return sandboxes;
  }

  test("short executions queued behind one sandbox are served by recycling it, with no new start", async () => {
    const sandboxes = await taughtPool();
    const started = sandboxes.stats().started;
    const current = await sandboxes.acquire();
    const waiting = [sandboxes.acquire(), sandboxes.acquire()];
    // A start costs several resets of CPU: the lent sandbox, back and reset twice, serves both first.
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the refill delay
    assert.equal(sandboxes.stats().starting, 0);
    await servedByRecycling(sandboxes, current, waiting);
    assert.equal(sandboxes.stats().started, started);
  });

  test("as many sandboxes as cores, all being reset after short executions: waiters get no start", async () => {
    // The moment of a burst where every sandbox is being reset and none is lent: a start would take the CPU
    // of several resets from the cores that serve the waiters sooner. `cores` pins the machine's count.
    const sandboxes = await taughtPool({ size: 2, cores: 2 });
    const started = sandboxes.stats().started;
    const lent = [await sandboxes.acquire(), await sandboxes.acquire()];
    for (const sandbox of lent) {
      await run(sandbox, "pass");
      sandboxes.recycle(sandbox);
    }
    assert.equal(sandboxes.stats().resetting, 2);
    const waiting = Array.from({ length: 4 }, () => sandboxes.acquire());
    assert.equal(sandboxes.stats().starting, 0, "both sandboxes are being reset: no start");
    let served = 0;
    for (const next of waiting) {
      const sandbox = await next;
      assert.ok(lent.includes(sandbox), "a recycled process");
      assert.equal(await run(sandbox, "print(1)"), "1\n");
      served++;
      sandboxes.recycle(sandbox);
      assert.equal(sandboxes.stats().starting, 0, `no start after ${served} served`);
    }
    assert.equal(sandboxes.stats().started, started);
  });

  test("the same, on more cores than sandboxes: a waiter beyond what is being reset gets a start", async () => {
    const sandboxes = await taughtPool({ size: 2, cores: 8 });
    const lent = [await sandboxes.acquire(), await sandboxes.acquire()];
    for (const sandbox of lent) {
      await run(sandbox, "pass");
      sandboxes.recycle(sandbox);
    }
    const waiting = Array.from({ length: 4 }, () => sandboxes.acquire());
    assert.ok(sandboxes.stats().starting > 0, "idle cores: a start serves a waiter");
    for (const next of waiting) (await next).kill();
  });

  test("lends longer than a reset, the machine's cores busy: waiters get the lent sandbox back, no start", async () => {
    // One core pinned by a busy loop in another process; `cores: 1` makes it the machine's only one.
    const spinner = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
    try {
      // Size 0: no refill starts a second sandbox while the first is lent.
      const sandboxes = pool({ size: 0, cores: 1 });
      const taught = await sandboxes.acquire();
      // A lend longer than a reset (short-lend saturation does not apply), shorter than a start.
      await delay(500);
      sandboxes.recycle(taught);
      await sandboxes.warmUp();
      assert.equal(sandboxes.stats().warm, 1);
      const started = sandboxes.stats().started;
      const current = await sandboxes.acquire();
      // More waiters than the lent sandbox serves before a start would be ready: the forecast alone starts one.
      const waiting = [sandboxes.acquire(), sandboxes.acquire(), sandboxes.acquire()];
      await delay(300); // past the refill delay
      assert.equal(sandboxes.stats().starting, 0, "a start would only take CPU from the busy core");
      await servedByRecycling(sandboxes, current, waiting);
      assert.equal(sandboxes.stats().started, started);
    } finally {
      spinner.kill("SIGKILL");
    }
  });

  test("a shortage listener that throws fails neither the acquire nor the waiter", async () => {
    const sandboxes = pool({ size: 0 });
    let told = 0;
    sandboxes.onShortage(() => {
      told++;
      throw new Error("a broken listener");
    });
    const sandbox = await sandboxes.acquire();
    assert.equal(told, 1);
    assert.equal(await run(sandbox, "print(2)"), "2\n");
    sandbox.kill();
  });

  test("a sandbox kept far longer than usual is not counted on: its waiter gets a new start", async () => {
    const sandboxes = await taughtPool();
    const started = sandboxes.stats().started;
    const held = await sandboxes.acquire();
    const waiting = sandboxes.acquire();
    assert.equal(sandboxes.stats().starting, 0, "at first the held sandbox is expected back soon");
    const served = await waiting;
    assert.notEqual(served, held);
    assert.equal(sandboxes.stats().started, started + 1);
    held.kill();
    served.kill();
  });
});
