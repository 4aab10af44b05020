import { closeSync, openSync, readFileSync, readlinkSync, readSync, realpathSync } from "node:fs";

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

const resolvedWrappers = new Map<string, string | undefined>();

/**
 * The file a wrapper's /proc/<pid>/exe names: `path` with its links resolved (bubblewrap found as /bin/bwrap runs
 * as /usr/bin/bwrap where /bin links to /usr/bin), undefined for none or one that does not resolve.
 */
export function wrapperExecutable(path: string | null): string | undefined {
  if (path === null) return undefined;
  if (!resolvedWrappers.has(path)) {
    let resolved: string | undefined;
    try {
      resolved = realpathSync(path);
    } catch {}
    resolvedWrappers.set(path, resolved);
  }
  return resolvedWrappers.get(path);
}

/**
 * A process tree the host reads from /proc for the whole life of its root (a sandbox): CPU time and memory
 * at every run's start and end, memory every 50 ms while one runs. Its files stay open and are read again
 * with pread at offset 0, which makes the kernel generate them anew: measured here, a status file 13.9 ->
 * 8.6 µs, stat 10.3 -> 4.6, a children list 6.6 -> 0.9, ~300 µs of the host's CPU a warm execution
 * (BENCHMARKS.md, stop 26). An open /proc file belongs to its process, not to its pid: once that process
 * is gone a read fails (ESRCH) and the file is closed; it never reads a later process given the same pid.
 *
 * Wrappers (processes whose executable is `wrapperPath`: bubblewrap's two, above the sandbox's node) run none
 * of the guest's code, so their CPU time does not move with it and their memory is theirs from the start:
 * each is read once (its memory then counted as that first reading found it), and afterwards only its
 * children list (in situ, a reading's /proc reads cost 2-5x what they do on an idle tree: a children list ~4
 * µs, statm ~8.5, stat ~11, status ~25). Which file a process runs is the kernel's answer
 * (/proc/<pid>/exe), not anything the process can rename; one whose executable cannot be read is no wrapper.
 * Per warm execution that spares 4 of its 6 stat and status reads (BENCHMARKS.md, stop 33).
 */
export class ProcessTree {
  readonly #root: number | undefined;
  readonly #wrapperPath: string | undefined;
  readonly #files = new Map<string, number>();
  /** Per process seen: its memory in kB if it is a wrapper (read once), null if it is not. */
  readonly #wrappers = new Map<number, number | null>();
  #closed = false;

  constructor(root: number | undefined, wrapperPath?: string) {
    this.#root = root;
    this.#wrapperPath = wrapperPath;
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
    const gone = this.#walk(
      (pid) => {
        const status = this.#read(`/proc/${pid}/status`);
        if (status === undefined) return false;
        kilobytes += residentKilobytes(status);
        return true;
      },
      (wrapperKilobytes) => {
        kilobytes += wrapperKilobytes;
      },
    );
    return gone ? undefined : kilobytes * 1024;
  }

  /** Closes its files; it reads nothing after (the root's pid may name another process by then). */
  close(): void {
    this.#closed = true;
    for (const fd of this.#files.values()) closeQuietly(fd);
    this.#files.clear();
  }

  /**
   * Walks the tree: `visit` reads each process but the wrappers, whose first reading `wrapper` is given
   * instead. True when the root is gone, nothing but wrappers is left, or this tree is closed.
   */
  #walk(visit: (pid: number) => boolean, wrapper?: (kilobytes: number) => void): boolean {
    const root = this.#root;
    if (root === undefined || this.#closed) return true;
    let found = false;
    const queue = [root];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const wrapperKilobytes = this.#wrapperMemory(next);
      if (wrapperKilobytes === null) {
        if (!visit(next)) {
          if (next === root) return true;
          continue;
        }
        found = true;
      } else {
        wrapper?.(wrapperKilobytes);
      }
      for (const child of (this.#read(`/proc/${next}/task/${next}/children`) ?? "").split(" ")) {
        const pid = Number(child);
        if (pid > 0) queue.push(pid);
      }
    }
    // Wrappers are not read, so one that is gone shows only as an empty children list: a tree with nothing
    // but wrappers left (the sandbox's node gone) is gone.
    return !found;
  }

  /** A wrapper's memory in kB as first read (then no longer read); null for any other process. */
  #wrapperMemory(pid: number): number | null {
    const known = this.#wrappers.get(pid);
    if (known !== undefined) return known;
    // A tree that somehow grew past a sandbox's few processes: the rest are read each time, as any process.
    if (this.#wrapperPath === undefined || this.#wrappers.size >= MAX_OPEN_PROC_FILES) return null;
    let executable: string | undefined;
    try {
      executable = readlinkSync(`/proc/${pid}/exe`);
    } catch {}
    let kilobytes: number | null = null;
    // A wrapper has a child (bubblewrap's monitor its init, the init the sandbox's node): a process forked by
    // one and not yet exec'd still shows the wrapper's executable, and must not be taken for one for good.
    if (executable === this.#wrapperPath && (this.#read(`/proc/${pid}/task/${pid}/children`) ?? "").trim() !== "") {
      const status = readProc(`/proc/${pid}/status`);
      if (status !== undefined) kilobytes = residentKilobytes(status);
    }
    this.#wrappers.set(pid, kilobytes);
    return kilobytes;
  }

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

/** Resident plus swapped-out kB from a /proc status file. */
const residentKilobytes = (status: string): number => statusField(status, "VmRSS:") + statusField(status, "VmSwap:");

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
