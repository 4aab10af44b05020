import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100;

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The pid and all its descendants. With bubblewrap the spawned pid is bwrap, and node is below it. */
export function processTree(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === undefined || found.includes(next)) continue;
    found.push(next);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    // Children are listed per thread that forked them, so every thread is read.
    for (const task of tasks) {
      for (const child of readOrEmpty(`/proc/${next}/task/${task}/children`).split(" ")) {
        if (child.trim() !== "") queue.push(Number(child));
      }
    }
  }
  return found;
}

function statusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readOrEmpty(`/proc/${pid}/status`));
  return match ? Number(match[1]) : 0;
}

function pssKb(pid: number): number {
  const match = /^Pss:\s+(\d+) kB/m.exec(readOrEmpty(`/proc/${pid}/smaps_rollup`));
  return match ? Number(match[1]) : 0;
}

/** Summed over the tree, in MiB. PSS splits shared pages (node's text, libc) between processes. */
export function treeMemoryMiB(pid: number): { rss: number; pss: number; processes: number } {
  const pids = processTree(pid);
  const rss = pids.reduce((sum, each) => sum + statusKb(each, "VmRSS"), 0);
  const pss = pids.reduce((sum, each) => sum + pssKb(each), 0);
  return { rss: rss / 1024, pss: pss / 1024, processes: pids.length };
}

/** User + system CPU of the tree so far, in ms (10 ms resolution). */
export function treeCpuMs(pid: number): number {
  let ticks = 0;
  for (const each of processTree(pid)) {
    const stat = readOrEmpty(`/proc/${each}/stat`);
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

export function hostCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU (host process, and a child's tree) spent per operation between `start` and `stop`, in µs. */
export function cpuPerOperation(pid: number): { stop(operations: number): { host: number; child: number } } {
  const host0 = hostCpuMs();
  const child0 = treeCpuMs(pid);
  return {
    stop: (operations) => ({
      host: ((hostCpuMs() - host0) * 1000) / operations,
      child: ((treeCpuMs(pid) - child0) * 1000) / operations,
    }),
  };
}
