import type { ScriptLanguage } from "../src/protocol/execution.js";
import { DEFAULT_MEMORY_BYTES } from "../src/protocol/limits.js";
import { ensureMemorySnapshot } from "../src/sandbox/memory-snapshot.js";
import { SandboxProcess } from "../src/sandbox/sandbox-process.js";
import { resolveSandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { runAnsweringNoop } from "./bare-sandbox.js";
import { benchEngine, check } from "./engine-cases.js";
import { treeCpuMs } from "./proc-tree.js";
import { median } from "./stats.js";

/**
 * The host's CPU per sequential tool call (issues 14 and 15), unprofiled, for A/B runs of two checkouts
 * in the same minutes: copy this file into the other checkout's bench/ and alternate the two.
 *   node --import tsx bench/host-cpu-per-call.ts [javascript|python] [calls] [repeats] [bare]
 * `bare`: a SandboxProcess answering each call at once, without the engine (the crossing alone). Prints one line per repeat and a `MEDIAN` line: µs per call of host CPU (process.cpuUsage, user and
 * system, all host threads), of wall, and of the sandbox tree's CPU (/proc, 10 ms ticks).
 */
const language: ScriptLanguage = process.argv[2] === "python" ? "python" : "javascript";
const calls = Number(process.argv[3] ?? 20_000);
const repeats = Number(process.argv[4] ?? 3);
const loop = (n: number) =>
  language === "javascript"
    ? `for (let i = 0; i < ${n}; i++) await tools.noop({ x: i });`
    : `for i in range(${n}):\n    await noop(x=i)`;

const bare = process.argv[5] === "bare";

interface Row {
  user: number;
  system: number;
  wall: number;
  sandbox: number;
}

/** Runs `loop(n)` once; the runner resolves when the script completed (and throws when it did not). */
type Runner = (n: number) => Promise<void>;

async function measure(run: Runner, sandboxPid: number): Promise<void> {
  await run(2_000);
  const rows: Row[] = [];
  for (let r = 0; r < repeats; r++) {
    const sandbox0 = treeCpuMs(sandboxPid);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await run(calls);
    const wall = ((performance.now() - wall0) * 1000) / calls;
    const cpu = process.cpuUsage(cpu0);
    const sandbox = ((treeCpuMs(sandboxPid) - sandbox0) * 1000) / calls;
    const row = { user: cpu.user / calls, system: cpu.system / calls, wall, sandbox };
    rows.push(row);
    console.log(
      `${language}${bare ? " bare" : ""} ${calls} calls: host CPU ${(row.user + row.system).toFixed(1)} µs/call (user ${row.user.toFixed(1)}, system ${row.system.toFixed(1)}), wall ${wall.toFixed(1)} µs, sandbox tree CPU ${sandbox.toFixed(1)} µs`,
    );
  }
  const m = (pick: (row: Row) => number) => median(rows.map(pick)).toFixed(1);
  console.log(
    `MEDIAN ${language}${bare ? " bare" : ""} host ${m((row) => row.user + row.system)} user ${m((row) => row.user)} system ${m((row) => row.system)} wall ${m((row) => row.wall)} sandbox ${m((row) => row.sandbox)}`,
  );
}

if (bare) {
  const runtime = resolveSandboxRuntime();
  const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, await ensureMemorySnapshot(runtime));
  try {
    await sandbox.ready;
    const run: Runner = (n) => runAnsweringNoop(sandbox, loop(n), language);
    await measure(run, sandbox.pid ?? 0);
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
} else {
  const engine = benchEngine(1);
  try {
    const container = "host-cpu";
    const limits = { maxToolCalls: calls * 2 };
    const run: Runner = async (n) => {
      check(await engine.execute({ code: loop(n), language, container, limits }).result, "loop");
    };
    await run(1);
    await measure(run, engine.inspectContainer(container)?.sandboxPid ?? 0);
  } finally {
    await engine.close();
  }
}
