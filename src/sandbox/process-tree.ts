import { closeSync, openSync, readFileSync, readSync } from "node:fs";

/** One buffer for every /proc read: a status file is ~1.5 KB, a children list a few pids. */
const procBuffer = Buffer.alloc(16_384);

/**
 * A small /proc file in one read (readFileSync stats and reads in a loop: ~2x slower here). One that fills
 * the buffer (a process with thousands of children) is read again in full, so no pid is ever cut off.
 */
export function readProc(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  let length: number;
  try {
    length = readSync(fd, procBuffer, 0, procBuffer.length, 0);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  if (length < procBuffer.length) return procBuffer.toString("latin1", 0, length);
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

/**
 * Visits a process and then its descendants, breadth first, from /proc/<pid>/task/<pid>/children (Linux).
 * `visit` returning false skips that process's children (it is gone, or the walk is over).
 */
export function walkProcessTree(root: number, visit: (pid: number) => boolean): void {
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (!visit(next)) continue;
    for (const child of (readProc(`/proc/${next}/task/${next}/children`) ?? "").split(" ")) {
      const pid = Number(child);
      if (pid > 0) queue.push(pid);
    }
  }
}

/** Descendants of a process, deepest first, from /proc (Linux). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  walkProcessTree(pid, (each) => {
    if (each !== pid) found.push(each);
    return true;
  });
  return found.reverse();
}

/**
 * CPU time (user + system, all threads) a process and its descendants have used, in ms, from /proc;
 * undefined where the root's is not readable (not Linux, or the process is gone).
 */
export function treeCpuTimeMs(root: number): number | undefined {
  let ticks = 0;
  let rootGone = false;
  walkProcessTree(root, (each) => {
    const stat = readProc(`/proc/${each}/stat`);
    if (stat === undefined) {
      if (each === root) rootGone = true;
    } else {
      // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return !rootGone;
  });
  if (rootGone) return undefined;
  // /proc reports clock ticks of USER_HZ, 100 on Linux.
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}
