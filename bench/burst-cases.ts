import type { Engine } from "../src/engine/engine.js";
import { check } from "./engine-cases.js";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

const BURST = `total = 0
for i in range(CALLS):
    total += await noop(x=i)
print("ok", ID, total)`;

/**
 * `executions` one-off executions (no container) started at once, each making `callsEach` sequential tool
 * calls: past the pool's warm sandboxes, each waits for a recycled or a newly started one. Every stdout and
 * call count is checked. `key` prefixes the rows' keys (`<key>Total`, `<key>Latency`, `<key>SandboxWait`).
 */
export async function burst(
  engine: Engine,
  options: { key: string; label: string; executions: number; callsEach: number; rounds: number },
): Promise<Measurement[]> {
  const { key, label, executions, callsEach, rounds } = options;
  const totals: number[] = [];
  const latencies: number[] = [];
  const sandboxWaits: number[] = [];
  const expectedSum = (callsEach * (callsEach - 1)) / 2;
  for (let round = 0; round < rounds; round++) {
    // Each round starts from the same state: the pool back at its size, nothing resetting or starting.
    await engine.warmUp();
    const started = performance.now();
    const runs = Array.from({ length: executions }, async (_, id) => {
      const code = BURST.replace("CALLS", String(callsEach)).replace("ID", String(id));
      const result = await engine.execute({ code }).result;
      latencies.push(elapsedMs(started));
      check(result, `${label}: execution ${id}`, `ok ${id} ${expectedSum}\n`);
      if (result.toolCalls.length !== callsEach) throw new Error(`execution ${id}: ${result.toolCalls.length} calls`);
      sandboxWaits.push(result.timings.sandboxWaitMs);
    });
    await Promise.all(runs);
    totals.push(elapsedMs(started));
  }
  return [
    summarize(`${key}Total`, `${label}, total wall`, "ms", totals, "all stdout checked"),
    summarize(`${key}Latency`, `${label}, per-execution latency`, "ms", latencies),
    summarize(`${key}SandboxWait`, "  of which waiting for a sandbox", "ms", sandboxWaits),
  ];
}
