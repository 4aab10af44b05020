/** Before any start is measured: a cold start from the snapshot, ~0.6 s alone on this 2-core machine. */
const INITIAL_START_MS = 1_000;
/** Recycles counted over this window make the recycling rate. */
const RATE_WINDOW_MS = 2_000;
/** Weight of the newest start in the running estimate of a start's duration. */
const START_SMOOTHING = 0.3;

/**
 * When a new sandbox start is worth it. A start costs ~0.7 s of CPU, a reset ~0.1 s; on 2 cores, starts made
 * while sandboxes are being recycled only slow the resets down. A start helps a waiter only if it is ready
 * before recycling would have served that waiter anyway: the pool starts one only while the waiters outnumber
 * the sandboxes being reset plus those the recent recycling rate will bring back within one start's duration.
 */
export class StartPacing {
  #startMs = INITIAL_START_MS;
  #recycledAt: number[] = [];

  /** A start took `ms` from spawn to ready. */
  started(ms: number): void {
    this.#startMs += START_SMOOTHING * (ms - this.#startMs);
  }

  recycled(now = performance.now()): void {
    this.#recycledAt.push(now);
    this.#prune(now);
  }

  /**
   * Sandboxes the recycling stream will bring back before a start made now is ready: the recent rate over
   * one start's duration, at most the `lent` sandboxes that could come back (those in use now).
   */
  servedBeforeAStart(lent: number, now = performance.now()): number {
    this.#prune(now);
    const perMs = this.#recycledAt.length / RATE_WINDOW_MS;
    return Math.min(lent, Math.floor(perMs * this.#startMs));
  }

  /** When the recycling rate next drops (a recycle leaves the window), or undefined when none is counted. */
  nextChangeInMs(now = performance.now()): number | undefined {
    const oldest = this.#recycledAt[0];
    return oldest === undefined ? undefined : Math.max(0, oldest + RATE_WINDOW_MS - now);
  }

  #prune(now: number): void {
    let drop = 0;
    while (drop < this.#recycledAt.length && (this.#recycledAt[drop] ?? now) <= now - RATE_WINDOW_MS) drop++;
    if (drop > 0) this.#recycledAt.splice(0, drop);
  }
}
