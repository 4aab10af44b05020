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
 * Visits a process and then its descendants, breadth first, from /proc/<pid>/task/<pid>/children (Linux),
 * each read with `read` (`ProcessTree` passes its kept files). `visit` returning false skips that process's
 * children (it is gone, or the walk is over).
 */
export function walkProcessTree(
  root: number,
  visit: (pid: number) => boolean,
  read: (path: string) => string | undefined = readProc,
): void {
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (!visit(next)) continue;
    for (const child of (read(`/proc/${next}/task/${next}/children`) ?? "").split(" ")) {
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
 * The most /proc files one `ProcessTree` keeps open: a sandbox's tree is bubblewrap's two processes and the
 * node child (3 files each, 9 in all). Past it (a tree that somehow grew) files are opened for each read.
 */
export const MAX_OPEN_PROC_FILES = 12;

/**
 * A process tree the host reads from /proc for the whole life of its root (a sandbox): CPU time and memory
 * at every run's start and end, memory every 50 ms while one runs. Its files stay open and are read again
 * with pread at offset 0, which makes the kernel generate them anew: measured here, a status file 13.9 ->
 * 8.6 µs, stat 10.3 -> 4.6, a children list 6.6 -> 0.9, ~300 µs of the host's CPU a warm execution
 * (BENCHMARKS.md, stop 26). An open /proc file belongs to its process, not to its pid: once that process
 * is gone a read fails (ESRCH) and the file is closed; it never reads a later process given the same pid.
 */
export class ProcessTree {
  readonly #root: number | undefined;
  readonly #files = new Map<string, number>();
  #closed = false;

  constructor(root: number | undefined) {
    this.#root = root;
  }

  /** CPU time (user + system, all threads) of the root and its descendants, in ms; undefined once it is gone. */
  cpuTimeMs(): number | undefined {
    let ticks = 0;
    const gone = this.#walk((pid) => {
      const stat = this.#read(`/proc/${pid}/stat`);
      if (stat === undefined) return false;
      // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      return true;
    });
    // /proc reports clock ticks of USER_HZ, 100 on Linux.
    return gone || !Number.isFinite(ticks) ? undefined : ticks * 10;
  }

  /**
   * Resident plus swapped-out bytes of the root and its descendants (bubblewrap's two processes, then the
   * sandbox's node), from /proc/<pid>/status, read by the host: nothing in the sandbox can understate it.
   */
  residentBytes(): number | undefined {
    let kilobytes = 0;
    const gone = this.#walk((pid) => {
      const status = this.#read(`/proc/${pid}/status`);
      if (status === undefined) return false;
      kilobytes += statusField(status, "VmRSS:") + statusField(status, "VmSwap:");
      return true;
    });
    return gone ? undefined : kilobytes * 1024;
  }

  /** Closes its files; it reads nothing after (the root's pid may name another process by then). */
  close(): void {
    this.#closed = true;
    for (const fd of this.#files.values()) closeQuietly(fd);
    this.#files.clear();
  }

  /** Walks the tree; true when the root itself is gone (or this tree closed). */
  #walk(visit: (pid: number) => boolean): boolean {
    const root = this.#root;
    if (root === undefined || this.#closed) return true;
    let rootGone = false;
    const visitRoot = (pid: number) => {
      if (visit(pid)) return true;
      if (pid === root) rootGone = true;
      return false;
    };
    walkProcessTree(root, visitRoot, this.#readKept);
    return rootGone;
  }

  readonly #readKept = (path: string) => this.#read(path);

  #read(path: string): string | undefined {
    let fd = this.#files.get(path);
    if (fd === undefined) {
      if (this.#files.size >= MAX_OPEN_PROC_FILES) return readProc(path);
      try {
        fd = openSync(path, "r");
      } catch {
        return undefined;
      }
      this.#files.set(path, fd);
    }
    let length: number;
    try {
      length = readSync(fd, procBuffer, 0, procBuffer.length, 0);
    } catch {
      // The process is gone: its files are no use any more.
      this.#files.delete(path);
      closeQuietly(fd);
      return undefined;
    }
    return length < procBuffer.length ? procBuffer.toString("latin1", 0, length) : readProc(path);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {}
}

/** A "Name:   1234 kB" line's number from a /proc status file; 0 where absent. */
function statusField(status: string, name: string): number {
  const start = status.indexOf(name);
  if (start < 0) return 0;
  const value = Number.parseInt(status.slice(start + name.length, status.indexOf("\n", start)).trim(), 10);
  return Number.isFinite(value) && value > 0 ? value : 0;
}
