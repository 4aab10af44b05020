// The timers the sandbox child sets for Python (asyncio's delayed callbacks, the guest's `js.setTimeout`),
// each tracked until it fires so that a reset can cancel them all: a timer left behind would hold the old
// interpreter's callback (and with it the whole instance, ~100 MB) until it fired, and fire into the next
// execution's generation. The guest gets a number as its handle, never Node's Timeout object, whose fields
// are Node's shared timer lists. Part of the child: erasable syntax, intrinsics captured before guest code.
import { uncurry } from "./child-intrinsics.ts";

type Handle = ReturnType<typeof setTimeout>;
const nodeSetTimeout = setTimeout;
const nodeClearTimeout = clearTimeout;
const mapGet = uncurry(Map.prototype.get) as (map: Map<number, Handle>, key: unknown) => Handle | undefined;
const mapSet = uncurry(Map.prototype.set) as (map: Map<number, Handle>, key: number, value: Handle) => unknown;
const mapDelete = uncurry(Map.prototype.delete) as (map: Map<number, Handle>, key: unknown) => boolean;
const mapForEach = uncurry(Map.prototype.forEach) as (map: Map<number, Handle>, each: (handle: Handle) => void) => void;
const mapClear = uncurry(Map.prototype.clear) as (map: Map<number, Handle>) => void;

/** One kind of timers (the scheduler's, the guest's): each set has its own ids, so one cannot clear the other's. */
export class TimerSet {
  readonly #live = new Map<number, Handle>();
  #nextId = 1;

  /** Calls `callback` after `delay` ms unless cleared first; returns its id (for `clear`). */
  set(callback: () => void, delay: unknown): number {
    const id = this.#nextId++;
    const live = this.#live;
    const handle = nodeSetTimeout(() => {
      mapDelete(live, id);
      callback();
    }, delay as number);
    mapSet(live, id, handle);
    return id;
  }

  /** Cancels timer `id` (anything else is ignored); true if it had not fired yet. */
  clear(id: unknown): boolean {
    const handle = mapGet(this.#live, id);
    if (handle === undefined) return false;
    mapDelete(this.#live, id);
    nodeClearTimeout(handle);
    return true;
  }

  /** Cancels every timer not fired yet (a reset): their callbacks are dropped, unrun. */
  clearAll(): void {
    mapForEach(this.#live, (handle) => nodeClearTimeout(handle));
    mapClear(this.#live);
  }
}
