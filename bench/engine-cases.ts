import { createEngine, type Engine } from "../src/engine/engine.js";
import type { ExecutionResult, ScriptLanguage } from "../src/protocol/execution.js";
import type { ExecutionLimits } from "../src/protocol/limits.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import type { SandboxPoolOptions } from "../src/sandbox/sandbox-pool-options.js";
import { cpuPerOperation, treeMemoryMiB } from "./proc-tree.js";
import { elapsedMs, type Measurement, median, summarize } from "./stats.js";

export const noopTool: ToolDefinition<{ x: number }, number> = {
  name: "noop",
  description: "returns its input x",
  inputSchema: { type: "object" },
  allowedCallers: ["code_execution"],
  handler: (input) => input.x,
};

/** Untimed runs before the steady-state rows of warm starts and gathers. */
const STEADY_AFTER_RUNS = 500;
const STEADY_AFTER_GATHERS = 10;

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

/**
 * The bench's scripts in one guest language, and how its rows are named: Python's keys and labels are the
 * bare ones (as before there was another language), JavaScript's are prefixed.
 */
export interface GuestScripts {
  language: ScriptLanguage;
  /** Prefixes every row key (camelCase continues: "js" + "PerCallWall" is "jsPerCallWall"). */
  keyPrefix: string;
  /** Prefixes every row label. */
  labelPrefix: string;
  trivial: string;
  /** Makes CALLS sequential calls and prints the script's own measure of µs per call. */
  sequential: string;
  /** Makes CALLS calls at once, checks the results and prints "ok". */
  gather: string;
  /** What the script itself measures per call with. */
  inScriptClock: string;
}

export const PYTHON_SCRIPTS: GuestScripts = {
  language: "python",
  keyPrefix: "",
  labelPrefix: "",
  trivial: "pass",
  sequential: `import time
t = time.perf_counter()
for i in range(CALLS):
    assert await noop(x=i) == i
print((time.perf_counter() - t) * 1e6 / CALLS)`,
  gather: `import asyncio
r = await asyncio.gather(*[noop(x=i) for i in range(CALLS)])
assert r == list(range(CALLS))
print("ok")`,
  inScriptClock: "time.perf_counter",
};

export const JAVASCRIPT_SCRIPTS: GuestScripts = {
  language: "javascript",
  keyPrefix: "js",
  labelPrefix: "JavaScript guest: ",
  trivial: "0;",
  // Date.now() has millisecond resolution: over 10,000 calls that is well under 1% of the loop.
  sequential: `const t = Date.now();
for (let i = 0; i < CALLS; i++) {
  if ((await tools.noop({ x: i })) !== i) throw new Error("wrong result");
}
console.log(((Date.now() - t) * 1000) / CALLS);`,
  gather: `const r = await Promise.all(Array.from({ length: CALLS }, (_, i) => tools.noop({ x: i })));
if (r.some((value, i) => value !== i)) throw new Error("wrong result");
console.log("ok");`,
  inScriptClock: "Date.now",
};

/** A row key in a guest's namespace: `key("PerCallWall")` is "perCallWall" for Python, "jsPerCallWall" for JS. */
function keyOf(scripts: GuestScripts, key: string): string {
  return scripts.keyPrefix === "" ? key.charAt(0).toLowerCase() + key.slice(1) : `${scripts.keyPrefix}${key}`;
}

async function timed(engine: Engine, scripts: GuestScripts, container?: string): Promise<number> {
  const started = performance.now();
  const request = { code: scripts.trivial, language: scripts.language, ...(container ? { container } : {}) };
  check(await engine.execute(request).result, "warm start");
  return elapsedMs(started);
}

/** `execute` → result for a trivial script: a one-off container (takes a warm sandbox) and a reused one. */
export async function warmStarts(
  engine: Engine,
  samples: number,
  scripts: GuestScripts = PYTHON_SCRIPTS,
): Promise<Measurement[]> {
  await engine.warmUp();
  // The first runs pay one-time host costs (tokenizer, JIT); they are not counted.
  await timed(engine, scripts);
  await timed(engine, scripts, "bench");
  const oneOff: number[] = [];
  for (let i = 0; i < samples; i++) {
    // The used sandbox is reset (or killed) and the pool refills in the background; that is not counted.
    await engine.warmUp();
    oneOff.push(await timed(engine, scripts));
  }
  await engine.warmUp();
  const reused: number[] = [];
  for (let i = 0; i < samples; i++) reused.push(await timed(engine, scripts, "bench"));
  // The same container once its sandbox's code is optimised: V8 tiers a function up only after it has run a
  // while (CPython's wasm by a budget set high for a cheap start, sandbox-runtime.ts), so a fresh sandbox's
  // first runs are slower than a long-lived one's. Apart, for the reader; the target reads the row above.
  for (let i = 0; i < STEADY_AFTER_RUNS; i++) await timed(engine, scripts, "bench");
  const steady: number[] = [];
  for (let i = 0; i < samples; i++) steady.push(await timed(engine, scripts, "bench"));
  engine.closeContainer("bench");
  const label = scripts.labelPrefix;
  return [
    summarize(keyOf(scripts, "WarmStartOneOff"), `${label}warm start, one-off container (from pool)`, "ms", oneOff),
    summarize(keyOf(scripts, "WarmStartContainer"), `${label}warm start, existing container`, "ms", reused),
    summarize(
      keyOf(scripts, "WarmStartContainerSteady"),
      `${label}  the same after ${STEADY_AFTER_RUNS} more runs (steady state)`,
      "ms",
      steady,
    ),
  ];
}

/**
 * Sequential tool calls in one execution. Per call = host wall time / calls (includes execution
 * start and result building, amortised) and the script's own perf_counter figure. CPU of the
 * host and of the sandbox tree shows where the time goes.
 */
export async function sequentialCalls(
  engine: Engine,
  calls: number,
  repeats: number,
  scripts: GuestScripts = PYTHON_SCRIPTS,
): Promise<Measurement[]> {
  const container = "sequential";
  const { language } = scripts;
  check(await engine.execute({ code: scripts.trivial, language, container }).result, "sequential warm-up");
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
        code: scripts.sequential.replaceAll("CALLS", String(calls)),
        language,
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
  const label = scripts.labelPrefix;
  return [
    summarize(keyOf(scripts, "PerCallWall"), `${label}per call, ${calls} sequential (host wall / calls)`, "µs", wall),
    summarize(
      keyOf(scripts, "PerCallInScript"),
      `${label}per call, same runs, ${scripts.inScriptClock} in script`,
      "µs",
      inScript,
    ),
    summarize(keyOf(scripts, "PerCallHostCpu"), "  host CPU per call", "µs", hostCpu),
    summarize(keyOf(scripts, "PerCallSandboxCpu"), "  sandbox CPU per call", "µs", sandboxCpu),
  ];
}

/** One gather (asyncio.gather, Promise.all) of many calls, under the default concurrency cap and with the cap lifted. */
export async function gatheredCalls(
  engine: Engine,
  calls: number,
  repeats: number,
  scripts: GuestScripts = PYTHON_SCRIPTS,
): Promise<Measurement[]> {
  const container = "gather";
  const { language } = scripts;
  check(await engine.execute({ code: scripts.trivial, language, container }).result, "gather warm-up");
  const rows: Measurement[] = [];
  const variants: Array<{ key: string; label: string; limits: Partial<ExecutionLimits>; untimed?: number }> = [
    { key: keyOf(scripts, "GatherDefaultCap"), label: "default cap (16 concurrent)", limits: {} },
    { key: keyOf(scripts, "GatherUncapped"), label: `cap ${calls}`, limits: { maxConcurrentToolCalls: calls } },
    // As warmStarts' steady row: the sandbox's code optimised (the in-process baseline warms up likewise).
    {
      key: keyOf(scripts, "GatherDefaultCapSteady"),
      label: `default cap, after ${STEADY_AFTER_GATHERS} more untimed (steady state)`,
      limits: {},
      untimed: STEADY_AFTER_GATHERS,
    },
  ];
  const code = scripts.gather.replaceAll("CALLS", String(calls));
  for (const variant of variants) {
    const limits = { maxToolCalls: calls * 2, ...variant.limits };
    for (let r = 0; r < (variant.untimed ?? 0); r++) {
      check(await engine.execute({ code, language, container, limits }).result, "gather", "ok\n");
    }
    const samples: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const started = performance.now();
      check(await engine.execute({ code, language, container, limits }).result, "gather", "ok\n");
      samples.push(elapsedMs(started));
    }
    const row = summarize(
      variant.key,
      `${scripts.labelPrefix}gather of ${calls}, ${variant.label}, total`,
      "ms",
      samples,
    );
    row.note = `${((row.median * 1000) / calls).toFixed(0)} µs/call`;
    rows.push(row);
  }
  engine.closeContainer(container);
  return rows;
}

/**
 * Memory (RSS and PSS, summed over each process tree) of sandboxes that have run the guest's scripts: each
 * of `count` containers runs 100 sequential calls, then its sandbox is measured while the container holds it.
 */
export async function sandboxMemoryAfterRuns(
  engine: Engine,
  count: number,
  scripts: GuestScripts = PYTHON_SCRIPTS,
): Promise<Measurement[]> {
  const containers = Array.from({ length: count }, (_, i) => `memory-${i}`);
  const { language } = scripts;
  const code = scripts.sequential.replaceAll("CALLS", "100");
  await Promise.all(
    containers.map(async (container) =>
      check(await engine.execute({ code, language, container }).result, "memory warm-up"),
    ),
  );
  const trees = containers.map((container) => treeMemoryMiB(engine.inspectContainer(container)?.sandboxPid ?? 0));
  for (const container of containers) engine.closeContainer(container);
  const note = `after a run of 100 calls; ${median(trees.map((tree) => tree.processes))} processes per sandbox`;
  const label = `${scripts.labelPrefix}memory per sandbox`;
  return [
    summarize(
      keyOf(scripts, "SandboxRss"),
      `${label}, RSS`,
      "MiB",
      trees.map((tree) => tree.rss),
      note,
    ),
    summarize(
      keyOf(scripts, "SandboxPss"),
      `${label}, PSS`,
      "MiB",
      trees.map((tree) => tree.pss),
      note,
    ),
  ];
}
