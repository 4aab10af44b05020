/**
 * A sandbox's memory beyond its WebAssembly memory (which the child caps at the execution's memoryBytes):
 * the node process, V8's heap, Pyodide's JS side. Measured (Node 26, Pyodide from the memory snapshot,
 * bubblewrap): a warm sandbox at rest holds 205-215 MiB resident, of which ~40 MiB is the WebAssembly
 * memory itself; a script that fills Python up to memoryBytes ends at memoryBytes + ~170 MiB (682 MiB at
 * 512 MiB). The margin leaves ~340 MiB over that for JS-side transients (tool results pass through as JS
 * strings). Memory the cap does not see (ArrayBuffers from `to_js(b"x").constructor.new(n)`, JS arrays and
 * objects built through `js`) counts against the bound too: 1 GiB at the default memoryBytes of 512 MiB.
 */
export const SANDBOX_MEMORY_OVERHEAD_BYTES = 512 * 1_048_576;

/**
 * How often a running script's sandbox is measured. Touching fresh memory (filling 100 MB ArrayBuffers)
 * grows a sandbox's resident set by ~1-2 GB/s here, so a fast allocator gets at most ~100-200 MB past
 * the bound before the kill. One reading is the node child's status and the three processes' children
 * lists (bubblewrap's two are read once) from files kept open (process-tree.ts): ~30 µs, under 0.1% of a
 * core per running (or paused) script; nothing is read between scripts.
 */
export const MEMORY_POLL_MS = 50;

/** The most a sandbox may hold (resident plus swapped out) while its script runs. */
export function sandboxMemoryBound(memoryBytes: number, overheadBytes = SANDBOX_MEMORY_OVERHEAD_BYTES): number {
  return memoryBytes + overheadBytes;
}

/** Why a sandbox that ended was out of memory: the host's bound, or V8's own heap limit. */
export type MemoryLimitStop = { kind: "resident"; boundBytes: number; residentBytes: number } | { kind: "js-heap" };

/**
 * V8's fatal out-of-memory reports ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out
 * of memory", "... Ineffective mark-compacts near heap limit ...", "Fatal process out of memory: ..."): a
 * script that built a huge JS array, object or string through `js` ran the child's heap (--max-old-space-size)
 * out. The text comes from the child's stderr; a sandbox that fakes it only relabels its own death.
 */
const V8_OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit|Fatal process out of memory/;

export function jsHeapExhausted(diagnostics: string): boolean {
  return V8_OUT_OF_MEMORY.test(diagnostics);
}

/**
 * Measures a sandbox's process tree every `periodMs` while a script runs and reports once when it holds
 * more than the bound; the caller kills it. A cgroup would bound it in the kernel, but needs a delegated
 * cgroup v2 memory controller, which a host (or a container it runs in) may not have.
 */
export class MemoryWatch {
  readonly #read: () => number | undefined;
  readonly #onExceeded: (stop: MemoryLimitStop) => void;
  readonly #periodMs: number;
  #timer: NodeJS.Timeout | undefined;
  #boundBytes = 0;
  #peakBytes = 0;
  /** When the latest reading was taken (`performance.now()`), and what it found. */
  #readAt = Number.NEGATIVE_INFINITY;
  #lastBytes = Number.POSITIVE_INFINITY;

  /** `read` gives the tree's resident bytes (`ProcessTree.residentBytes`), undefined once it is gone. */
  constructor(read: () => number | undefined, onExceeded: (stop: MemoryLimitStop) => void, periodMs = MEMORY_POLL_MS) {
    this.#read = read;
    this.#onExceeded = onExceeded;
    this.#periodMs = periodMs;
  }

  /** The most the tree held at any reading so far. */
  get peakBytes(): number {
    return this.#peakBytes;
  }

  get watching(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Starts (or restarts with a new bound) the readings. The first is taken at once, unless the latest reading
   * is younger than one period and within the new bound: then that one stands, and the next comes one period
   * after it. Either way no two readings of a sandbox that runs are more than a period apart. The reading at
   * once catches what runs shorter than one period kept: a container whose scripts each allocate for < 50 ms
   * and return would otherwise never be read while it grows past the bound. Reusing a fresh one spares a
   * container's back-to-back short runs a reading each (~40-60 µs of the host's CPU, a tenth of a warm start's).
   */
  start(boundBytes: number): void {
    this.stop();
    if (process.platform !== "linux") return;
    this.#boundBytes = boundBytes;
    const age = performance.now() - this.#readAt;
    if (age < this.#periodMs && this.#lastBytes <= boundBytes) {
      this.#arm(this.#periodMs - age);
      return;
    }
    this.#arm(this.#periodMs);
    this.#check();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#tick, delayMs);
    // The run's child process keeps the host alive; the readings alone must not.
    this.#timer.unref();
  }

  readonly #tick = (): void => {
    this.#arm(this.#periodMs);
    this.#check();
  };

  #check(): void {
    const used = this.#read();
    if (used === undefined) return;
    this.#readAt = performance.now();
    this.#lastBytes = used;
    this.#peakBytes = Math.max(this.#peakBytes, used);
    if (used <= this.#boundBytes) return;
    this.stop();
    this.#onExceeded({ kind: "resident", boundBytes: this.#boundBytes, residentBytes: used });
  }
}
