import { createEngine, type Engine } from "../src/engine/engine.js";
import type { ExecutionResult } from "../src/protocol/execution.js";
import type { ExecutionLimits } from "../src/protocol/limits.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import type { SandboxPoolOptions } from "../src/sandbox/sandbox-pool.js";
import { cpuPerOperation } from "./proc-tree.js";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

export const noopTool: ToolDefinition<{ x: number }, number> = {
  name: "noop",
  description: "returns its input x",
  inputSchema: { type: "object" },
  allowedCallers: ["code_execution"],
  handler: (input) => input.x,
};

export function benchEngine(poolSize: number, pool: Omit<SandboxPoolOptions, "size"> = {}): Engine {
  return createEngine({ pool: { ...pool, size: poolSize }, tools: [noopTool as ToolDefinition] });
}

/** A benchmark that silently measures failures is worse than none: every run is checked. */
export function check(result: ExecutionResult, what: string, expectedStdout?: string): ExecutionResult {
  const problem =
    result.status !== "completed"
      ? `status ${result.status}: ${result.error?.code} ${result.error?.message}`
      : expectedStdout !== undefined && result.stdout !== expectedStdout
        ? `stdout ${JSON.stringify(result.stdout.slice(0, 200))}, expected ${JSON.stringify(expectedStdout)}`
        : null;
  if (problem) throw new Error(`${what} failed: ${problem.slice(0, 400)}`);
  return result;
}

async function timed(engine: Engine, code: string, container?: string): Promise<number> {
  const started = performance.now();
  check(await engine.execute({ code, ...(container ? { container } : {}) }).result, "warm start");
  return elapsedMs(started);
}

/** `execute` → result for "pass": a one-off container (takes a warm sandbox) and a reused one. */
export async function warmStarts(engine: Engine, samples: number): Promise<Measurement[]> {
  await engine.warmUp();
  // The first runs pay one-time host costs (tokenizer, JIT); they are not counted.
  await timed(engine, "pass");
  await timed(engine, "pass", "bench");
  const oneOff: number[] = [];
  for (let i = 0; i < samples; i++) {
    // The used sandbox is killed and the pool refills in the background; that is not counted.
    await engine.warmUp();
    oneOff.push(await timed(engine, "pass"));
  }
  await engine.warmUp();
  const reused: number[] = [];
  for (let i = 0; i < samples; i++) reused.push(await timed(engine, "pass", "bench"));
  engine.closeContainer("bench");
  return [
    summarize("warmStartOneOff", "warm start, one-off container (from pool)", "ms", oneOff),
    summarize("warmStartContainer", "warm start, existing container", "ms", reused),
  ];
}

const SEQUENTIAL = `import time
t = time.perf_counter()
for i in range(CALLS):
    assert await noop(x=i) == i
print((time.perf_counter() - t) * 1e6 / CALLS)`;

/**
 * Sequential tool calls in one execution. Per call = host wall time / calls (includes execution
 * start and result building, amortised) and the script's own perf_counter figure. CPU of the
 * host and of the sandbox tree shows where the time goes.
 */
export async function sequentialCalls(engine: Engine, calls: number, repeats: number): Promise<Measurement[]> {
  const container = "sequential";
  check(await engine.execute({ code: "pass", container }).result, "sequential warm-up");
  const pid = engine.inspectContainer(container)?.sandboxPid ?? 0;
  const wall: number[] = [];
  const inScript: number[] = [];
  const hostCpu: number[] = [];
  const sandboxCpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const cpu = cpuPerOperation(pid);
    const started = performance.now();
    const result = check(
      await engine.execute({
        code: SEQUENTIAL.replaceAll("CALLS", String(calls)),
        container,
        limits: { maxToolCalls: calls * 2 },
      }).result,
      "sequential calls",
    );
    wall.push((elapsedMs(started) * 1000) / calls);
    const { host, child } = cpu.stop(calls);
    hostCpu.push(host);
    sandboxCpu.push(child);
    if (result.toolCalls.length !== calls)
      throw new Error(`expected ${calls} tool calls, saw ${result.toolCalls.length}`);
    inScript.push(Number(result.stdout.trim()));
  }
  engine.closeContainer(container);
  return [
    summarize("perCallWall", `per call, ${calls} sequential (host wall / calls)`, "µs", wall),
    summarize("perCallInScript", "per call, same runs, time.perf_counter in script", "µs", inScript),
    summarize("perCallHostCpu", "  host CPU per call", "µs", hostCpu),
    summarize("perCallSandboxCpu", "  sandbox CPU per call", "µs", sandboxCpu),
  ];
}

const GATHER = `import asyncio
r = await asyncio.gather(*[noop(x=i) for i in range(CALLS)])
assert r == list(range(CALLS))
print("ok")`;

/** One asyncio.gather of many calls, under the default concurrency cap and with the cap lifted. */
export async function gatheredCalls(engine: Engine, calls: number, repeats: number): Promise<Measurement[]> {
  const container = "gather";
  check(await engine.execute({ code: "pass", container }).result, "gather warm-up");
  const rows: Measurement[] = [];
  const variants: Array<{ key: string; label: string; limits: Partial<ExecutionLimits> }> = [
    { key: "gatherDefaultCap", label: "default cap (16 concurrent)", limits: {} },
    { key: "gatherUncapped", label: `cap ${calls}`, limits: { maxConcurrentToolCalls: calls } },
  ];
  for (const variant of variants) {
    const samples: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const started = performance.now();
      const code = GATHER.replaceAll("CALLS", String(calls));
      const limits = { maxToolCalls: calls * 2, ...variant.limits };
      check(await engine.execute({ code, container, limits }).result, "gather", "ok\n");
      samples.push(elapsedMs(started));
    }
    const row = summarize(variant.key, `gather of ${calls}, ${variant.label}, total`, "ms", samples);
    row.note = `${((row.median * 1000) / calls).toFixed(0)} µs/call`;
    rows.push(row);
  }
  engine.closeContainer(container);
  return rows;
}
