// The pool scripts/run-tests.mjs runs test files in: each file is its own `node --test-reporter=tap FILE`
// process, started in the order given; its TAP output is printed whole once it exits, so files running at
// the same time never interleave their lines.
//
// How many run at once adapts to the machine: always `min`, and one more (up to `max`) only while the CPU
// has been at least IDLE_TO_GROW idle over the last GROW_WINDOW_MS. A file mostly waits on sandboxes,
// sockets and child processes (a whole run at 2 files keeps 2 cores about a third busy), so on an idle
// machine more files at once finish sooner; on a machine someone else keeps busy, more files would only
// slow each other past their deadlines.
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { cpuGroup, reapedCpu } from "./test-cpu.mjs";

/** At least this share of all cores idle over the window before one more file starts. */
export const IDLE_TO_GROW = 0.4;
/** The window idleness is measured over; also the least time between two starts beyond `min`. */
export const GROW_WINDOW_MS = 3_000;
const TICK_MS = 250;

/** Idle and total CPU time of all cores so far (ms). */
function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total, at: Date.now() };
}

const COUNTS = ["tests", "pass", "fail", "cancelled", "skipped", "todo"];

/**
 * Runs one file; resolves once it exited, with its output, counts, time and CPU seconds (scripts/test-cpu.mjs:
 * `cpuSeconds` by its cgroup where there is one, else as reaped; `reapedCpuSeconds` as reaped).
 */
function runFile(file, { cwd, nodeFlags, reaped }) {
  const started = Date.now();
  const child = spawn(process.execPath, [...nodeFlags, "--test-reporter=tap", file], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const group = child.pid === undefined ? undefined : cpuGroup(child.pid);
  const stdout = [];
  const stderr = [];
  child.stdout.on("data", (chunk) => stdout.push(chunk));
  child.stderr.on("data", (chunk) => stderr.push(chunk));
  let reapedCpuSeconds;
  child.on("exit", () => {
    reapedCpuSeconds = reaped.take();
  });
  return new Promise((resolve) => {
    child.on("error", (error) => stderr.push(Buffer.from(String(error))));
    child.on("close", (code, signal) => {
      const tap = Buffer.concat(stdout).toString();
      const cpuSeconds = group?.seconds() ?? reapedCpuSeconds;
      group?.remove();
      const counts = {};
      for (const name of COUNTS) counts[name] = Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(tap)?.[1] ?? 0);
      resolve({
        file,
        tap,
        stderr: Buffer.concat(stderr).toString(),
        passed: code === 0 && signal === null,
        exit: signal ?? code,
        counts,
        seconds: (Date.now() - started) / 1000,
        cpuSeconds,
        reapedCpuSeconds,
      });
    });
  });
}

/**
 * Runs `files` in order, `min` to `max` at once. `onStart` gets each file as it starts, with how many then run
 * and the CPU's idle share over the last window; `onDone` gets each file's outcome as it exits.
 * Resolves to every outcome, in completion order.
 */
export async function runPool(files, { min, max, cwd, nodeFlags, onStart, onDone }) {
  const reaped = reapedCpu();
  const queue = [...files];
  const outcomes = [];
  const running = new Set();
  const samples = [cpuTimes()];
  let lastStart = 0;
  const start = (idle) => {
    const file = queue.shift();
    onStart(file, running.size + 1, idle);
    const run = runFile(file, { cwd, nodeFlags, reaped }).then((outcome) => {
      running.delete(run);
      outcomes.push(outcome);
      onDone(outcome);
    });
    running.add(run);
    lastStart = Date.now();
  };
  const idleShare = () => {
    const now = cpuTimes();
    samples.push(now);
    while (samples.length > 1 && now.at - (samples[1]?.at ?? now.at) >= GROW_WINDOW_MS) samples.shift();
    const [first] = samples;
    const total = now.total - first.total;
    return now.at - first.at >= GROW_WINDOW_MS && total > 0 ? (now.idle - first.idle) / total : 0;
  };
  while (queue.length > 0 || running.size > 0) {
    const idle = idleShare();
    if (queue.length > 0 && running.size < min) start(idle);
    else if (
      queue.length > 0 &&
      running.size < max &&
      Date.now() - lastStart >= GROW_WINDOW_MS &&
      idle >= IDLE_TO_GROW
    ) {
      start(idle);
    } else {
      await Promise.race([...running, new Promise((resolve) => setTimeout(resolve, TICK_MS))]);
    }
  }
  return outcomes;
}
