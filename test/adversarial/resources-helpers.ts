import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { codeTool, delay } from "../helpers/engine.js";
import { assertCompleted, type Harness, isAlive, type WireExecution } from "./harness.js";

/** Helpers of the resource cases: host memory, sandbox CPU, and containers prepared with some state. */

/** This process's resident set (the host: engine and server run in it), in bytes. */
export function hostRss(): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

/** CPU time (ms) of a process and its descendants: bubblewrap's processes, then the sandbox's node. */
export function treeCpuMs(root: number): number {
  let ticks = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
      queue.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {}
  }
  return ticks * 10;
}

/** A container whose Python globals hold `state = 'kept'`, and the pid of its sandbox. */
export async function containerWithState(harness: Harness): Promise<{ container: string; pid: number }> {
  const state = await harness.execute({ code: "state = 'kept'" });
  await assertCompleted(harness, state);
  const pid = harness.engine.inspectContainer(state.container_id)?.sandboxPid;
  assert.ok(pid, "the container has a live sandbox");
  return { container: state.container_id, pid };
}

/** The sandbox was SIGKILLed (or has otherwise ended) within a few seconds. */
export async function assertSandboxGone(pid: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && isAlive(pid)) await delay(20);
  assert.ok(!isAlive(pid), `sandbox ${pid} is gone`);
}

/**
 * The container still works after an attack: with its Python state (`kept`, the sandbox survived) or
 * restarted clean (`reset`, the sandbox was replaced and the result says so).
 */
export async function assertContainerAfter(
  harness: Harness,
  container: string,
  expected: "kept" | "reset",
): Promise<WireExecution> {
  const next = await harness.execute({ code: "print(globals().get('state'), 6 * 7)", container });
  const result = await assertCompleted(harness, next);
  assert.equal(result.stdout, expected === "kept" ? "kept 42\n" : "None 42\n");
  assert.equal(result.container_reset, expected === "reset", "container_reset says what happened");
  return next;
}

/** A server tool that counts its calls and the most it ever ran at once. */
export function countingTool() {
  const stats = { calls: 0, running: 0, maxRunning: 0 };
  const tool = codeTool("slow_double", async (input) => {
    stats.calls++;
    stats.maxRunning = Math.max(stats.maxRunning, ++stats.running);
    await delay(2);
    stats.running--;
    return Number(input.n) * 2;
  });
  return { tool, stats };
}
