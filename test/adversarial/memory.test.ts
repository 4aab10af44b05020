import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { SANDBOX_MEMORY_OVERHEAD_BYTES } from "../../src/sandbox/memory-watch.js";
import { assertCompleted, assertFailedWith, type Harness, startHarness, underAttack } from "./harness.js";
import { assertContainerAfter, assertSandboxGone, hostRss } from "./resources-helpers.js";

/**
 * Memory the WebAssembly cap does not see: ArrayBuffers (`to_js(b"x").constructor` is Uint8Array) and the
 * JS heap (arrays and objects built through `js`). The host reads the sandbox's resident set from /proc while
 * a script runs and SIGKILLs it past memory_bytes + SANDBOX_MEMORY_OVERHEAD_BYTES; V8's own heap
 * limit ending the child counts as the same limit. Each case: memory_limit in the result and the record,
 * the sandbox never got far past the bound (sampled here, host side), the server answers, the execution
 * beside it is right, and the container restarts clean. Bounds are kept small: these allocate for real.
 */

const MiB = 1_048_576;
// The server's ceiling (and so the default) is raised to 1 GiB for the one case that sets memory_bytes
// above V8's heap limit; every other case sets its own small limit.
const harness = await startHarness({ engine: { limits: { memoryBytes: 1024 * MiB } } });

const limits = { memory_bytes: 128 * MiB };
const BOUND = limits.memory_bytes + SANDBOX_MEMORY_OVERHEAD_BYTES;
/**
 * How far past the bound a sample may be: one polling period of a fast allocator (filling fresh pages runs at
 * ~1-2 GB/s; measured overshoots 40-130 MiB), with room for a busy host delaying the poll on 2 shared cores.
 */
const OVERSHOOT = 384 * MiB;
/** Generous: the engine and server run in this process; the sandbox's memory must never land here. */
const HOST_RSS_BOUND = 160 * MiB;

/** Resident plus swapped-out bytes of a process and its descendants (bubblewrap's, then node's), from /proc. */
function treeResident(root: number): number {
  let kilobytes = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      kilobytes += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) + Number(/VmSwap:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
      queue.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {}
  }
  return kilobytes * 1024;
}

/** A container (at the test's memory limit) whose Python globals hold `state = 'kept'`, and its sandbox. */
async function containerAtLimit(): Promise<{ container: string; pid: number }> {
  const state = await harness.execute({ code: "state = 'kept'", limits });
  await assertCompleted(harness, state);
  const pid = harness.engine.inspectContainer(state.container_id)?.sandboxPid;
  assert.ok(pid, "the container has a live sandbox");
  return { container: state.container_id, pid };
}

/**
 * Runs `code` in a fresh container at the test's limit while sampling its sandbox every 5 ms; asserts the
 * execution failed with memory_limit, what the sandbox held at most, and that the container restarts clean.
 */
async function bomb(h: Harness, code: string, message: RegExp, executionLimits = limits): Promise<number> {
  const { container, pid } = await containerAtLimit();
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, treeResident(pid));
  }, 5);
  let state: Awaited<ReturnType<Harness["execute"]>>;
  try {
    state = await h.execute({ code, container, limits: executionLimits });
  } finally {
    clearInterval(sampler);
  }
  const result = await assertFailedWith(h, state, "memory_limit");
  assert.equal(result.error?.type, "MemoryError");
  assert.match(result.error?.message ?? "", message);
  assert.ok(result.limits_hit.includes("memory_limit"), "limits_hit names memory_limit");
  assert.ok(!result.stdout.includes("survived"), "the script did not run to its end");
  await assertSandboxGone(pid);
  await assertContainerAfter(h, container, "reset");
  return peak;
}

const ARRAY_BUFFER = ["from pyodide.ffi import to_js", "U = to_js(b'x').constructor", "print(U.name)"].join("\n");

describe("memory outside the WebAssembly cap", () => {
  // Protection: MemoryWatch (memory-watch.ts) reads the sandbox tree's VmRSS every 50 ms while a script
  // runs and SIGKILLs it past its bound; execution.ts reports memory_limit, and the container restarts.
  test("many 100 MB ArrayBuffers, filled, are stopped near memory_bytes + the runtime overhead (memory_limit); the container restarts clean", async (t) => {
    const peak = await underAttack(harness, () =>
      bomb(
        harness,
        [
          ARRAY_BUFFER,
          "bufs = []",
          "for _ in range(50):",
          "    bufs.append(U.new(100_000_000).fill(1))",
          "print('survived')",
        ].join("\n"),
        new RegExp(`used more than ${BOUND} bytes`),
      ),
    );
    t.diagnostic(`peak ${peak} bytes, bound ${BOUND}`);
    assert.ok(peak > 0, "the sampler saw the sandbox");
    assert.ok(peak < BOUND + OVERSHOOT, `the sandbox held ${peak} bytes at most (bound ${BOUND})`);
  });

  test("a single 4 GiB ArrayBuffer, filled, is stopped near the bound (memory_limit); host memory stays flat", async (t) => {
    const before = hostRss();
    const peak = await underAttack(harness, () =>
      bomb(harness, [ARRAY_BUFFER, "U.new(2**32).fill(1)", "print('survived')"].join("\n"), /used more than/),
    );
    t.diagnostic(`peak ${peak} bytes, bound ${BOUND}`);
    assert.ok(peak < BOUND + OVERSHOOT, `the sandbox held ${peak} bytes at most (bound ${BOUND})`);
    assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
  });

  test("JS-heap bombs through js.Array and js.JSON.parse are stopped near the bound (memory_limit)", async (t) => {
    const peaks = await underAttack(harness, () =>
      Promise.all([
        bomb(
          harness,
          [
            "import js",
            "keep = []",
            "for _ in range(100):",
            "    keep.append(js.Array.new(10**7).fill(1.5))",
            "print('survived')",
          ].join("\n"),
          /used more than/,
        ),
        bomb(
          harness,
          [
            "import js",
            "text = '[' + '1,' * 5_000_000 + '1]'",
            "keep = []",
            "for _ in range(100):",
            "    keep.append(js.JSON.parse(text))",
            "print('survived')",
          ].join("\n"),
          /used more than/,
        ),
      ]),
    );
    t.diagnostic(`peaks ${peaks.join(", ")} bytes, bound ${BOUND}`);
    for (const peak of peaks) assert.ok(peak < BOUND + OVERSHOOT, `the sandbox held ${peak} bytes at most`);
  });

  // Protection: with memory_bytes at 1 GiB the host's bound (1.5 GiB) sits above V8's heap limit
  // (--max-old-space-size=1024): V8 ends the child itself, and its fatal report maps to memory_limit.
  test("a JS-heap bomb that reaches V8's heap limit first is memory_limit, not sandbox_crashed", async (t) => {
    const big = { memory_bytes: 1024 * MiB };
    const peak = await underAttack(harness, async () => {
      const state = await harness.execute({ code: "state = 'kept'", limits: big });
      const container = state.container_id;
      const pid = harness.engine.inspectContainer(container)?.sandboxPid;
      assert.ok(pid);
      let most = 0;
      const sampler = setInterval(() => {
        most = Math.max(most, treeResident(pid));
      }, 5);
      const code = ["import js", "keep = []", "for _ in range(200):", "    keep.append(js.Array.new(10**7).fill(1.5))"];
      const bombed = await harness.execute({ code: code.join("\n"), container, limits: big });
      clearInterval(sampler);
      const result = await assertFailedWith(harness, bombed, "memory_limit");
      assert.equal(result.error?.type, "MemoryError");
      assert.match(result.error?.message ?? "", /ran out of JavaScript heap/);
      assert.ok(result.limits_hit.includes("memory_limit"));
      await assertSandboxGone(pid);
      await assertContainerAfter(harness, container, "reset");
      return most;
    });
    t.diagnostic(`peak ${peak} bytes`);
    assert.ok(peak < 1024 * MiB + SANDBOX_MEMORY_OVERHEAD_BYTES, `the sandbox held ${peak} bytes at most`);
  });

  // The bound leaves room for what a script normally does: Python up to its cap, plus a moderate buffer.
  test("a script at its memory cap with a 150 MB ArrayBuffer beside it completes; the container keeps its state", async () => {
    await underAttack(harness, async () => {
      const { container } = await containerAtLimit();
      const code = [
        ARRAY_BUFFER,
        "chunks = []",
        "try:",
        "    while True:",
        "        chunks.append(bytearray(4 * 2**20))",
        "except MemoryError:",
        "    pass",
        "buf = U.new(150_000_000).fill(1)",
        "print(len(chunks) > 10, buf.length)",
      ].join("\n");
      const state = await harness.execute({ code, container, limits });
      const result = await assertCompleted(harness, state);
      assert.equal(result.stdout, "Uint8Array\nTrue 150000000\n");
      assert.ok(result.limits_hit.includes("memory_limit"), "the capped MemoryError is recorded");
      await assertContainerAfter(harness, container, "kept");
    });
  });
});
