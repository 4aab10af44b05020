// The sandbox child's V8 heap: the full GC a reset takes (once, during the build), and the heap a new or reset
// sandbox gives back once it idles. Part of the child: erasable syntax and node: builtins only, and `gc` taken
// when this module loads, before any guest code runs.
import { setFlagsFromString } from "node:v8";

// `--expose-gc` (sandbox-runtime.ts) gives the child `gc`: taken here, when the child loads, and removed
// before any guest code runs. A reset collects the old instance at once, not when V8 next needs room.
const globals = globalThis as unknown as Record<string, unknown>;
const collect = typeof globals.gc === "function" ? (globals.gc as (options?: object) => void) : () => {};
/**
 * A reset's one full GC, taken just before the kept module is instantiated (child-wasm-module.ts): the old
 * instance (~20 MB of V8's heap) is garbage by then, and once it is collected its wasm memory can be the new
 * instance's (child-wasm-memory.ts; one that grew is let go first and freed here).
 * Its heap limit is set at 4x what survives (~14 -> ~56 MB): the build allocates ~20 MB more, most of it
 * short-lived, and at V8's usual growth for so small a heap it ran out of room during the build and collected
 * again, freeing ~0.1 MB. Only this collection's limit: the next one is V8's usual again. Measured with the
 * child's `--no-incremental-marking` (sandbox-runtime.ts), 12 resets each, 3 pairs alternated: this and the
 * GC before the build (where it finished an incremental marking and then marked again) went from two or
 * three full GCs a reset to one, and a reset ~155-169 -> ~111-113 ms of CPU, ~131-143 -> ~88-94 ms of wall.
 */
export const collectForBuild = (): void => {
  setFlagsFromString("--heap-growing-percent=300");
  try {
    collect();
  } finally {
    setFlagsFromString("--heap-growing-percent=0");
  }
};
/**
 * A full GC that also gives back the young generation's pages (V8's "last resort" flavour: it shrinks new space
 * to its minimum). What the start-up left there is garbage by ready, but V8 keeps the grown semi-spaces
 * (12.8 MiB resident, 0 used) until its memory reducer runs, 8 s or more after the process goes idle.
 */
export const shrinkHeap = (): void => collect({ type: "major", execution: "sync", flavor: "last-resort" });
Reflect.deleteProperty(globalThis, "gc");

/**
 * How long a new or reset sandbox waits idle before it gives its heap back (`shrinkHeap`): a start or a reset
 * leaves its garbage and a grown young generation (PSS per sandbox ~93-101 -> ~77 MiB after a start, ~96 -> ~84
 * after a reset, in the bench's pool of 4). Not at once: in a burst the sandbox is lent within milliseconds,
 * and the GC (two full collections of the ~22 MB heap, ~65-90 ms of CPU) would add ~25% to a reset and ~9%
 * to a start, on the execution's path. Once per start or reset: a run holds it and its end re-arms it, so
 * an idle time after either gives the heap back, whatever ran in between.
 */
export const IDLE_SHRINK_MS = 1_000;
/**
 * The idle time after a run, longer: a sandbox that ran Python is reset before it serves another execution, and
 * the reset drops the whole heap anyway. Under a shortage a durable node takes a container's sandbox once it
 * has idled `DEFAULT_SHORTAGE_EVICT_IDLE_MS` (1 s when this was measured, 100 ms since), and at 1 s here too
 * the shrink ran first in nearly every one-off execution of `bench:load`: ~65-90 ms of CPU each for a heap the
 * reset then threw away. A container that keeps its sandbox longer gives the heap back 3 s after its run.
 */
export const IDLE_SHRINK_AFTER_RUN_MS = 3_000;
const nodeSetTimeout = setTimeout;
const nodeClearTimeout = clearTimeout;
let idleShrink: ReturnType<typeof setTimeout> | undefined;
let shrinkDue = false;

function armIdleShrink(ms: number): void {
  holdIdleShrink();
  idleShrink = nodeSetTimeout(() => {
    idleShrink = undefined;
    shrinkDue = false;
    shrinkHeap();
  }, ms);
}

/** Makes `shrinkHeap` due, run once the sandbox has stayed idle IDLE_SHRINK_MS (a start's or reset's end). */
export function shrinkHeapWhenIdle(): void {
  shrinkDue = true;
  armIdleShrink(IDLE_SHRINK_MS);
}

/** A run or a reset begins: the due shrink waits (it stays due). */
export function holdIdleShrink(): void {
  if (idleShrink === undefined) return;
  nodeClearTimeout(idleShrink);
  idleShrink = undefined;
}

/** A run ended: the shrink, if still due, waits for the next idle IDLE_SHRINK_AFTER_RUN_MS. */
export function resumeIdleShrink(): void {
  if (shrinkDue) armIdleShrink(IDLE_SHRINK_AFTER_RUN_MS);
}
