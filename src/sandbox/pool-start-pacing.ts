/** Before any start is measured: a cold start from the snapshot, ~1.1 s wall alone on this 2-core machine. */
const INITIAL_START_MS = 1_000;
/** Before any reset is measured: ~0.2 s wall alone on this machine. */
const INITIAL_RESET_MS = 300;
/** The share of the cores busy (any process's work) at which the machine counts as saturated. */
export const SATURATED_SHARE = 0.9;
/** Weight of the newest start or reset in the running estimate of its duration. */
const SMOOTHING = 0.3;
/** How many of the latest lends (a sandbox's time with an execution) make the usual lend, their median. */
const LEND_SAMPLES = 16;
/**
 * A lent sandbox out longer than this many usual lends (and at least a start's duration), plus a reset, is
 * not counted on to come back soon: a long script, or a container's (containers keep theirs until they end).
 */
const OVERDUE_FACTOR = 3;

/** What recycling will do before a start made now would be ready. */
export interface RecyclingForecast {
  /** Waiters the lent sandboxes will serve, once back and reset, before a start made now is ready. */
  served: number;
  /** Lent sandboxes counted on to come back at all (none is overdue). */
  returning: number;
  /** When the forecast next drops (a lent sandbox turns overdue); undefined when nothing is counted on. */
  recheckInMs: number | undefined;
}

/**
 * When a new sandbox start is worth it. A start costs ~0.7 s of CPU and ~0.5 s wall, a reset ~0.17-0.22 s of
 * CPU and ~0.15 s wall (BENCHMARKS.md, "Stop 26's run"); on 2 cores, starts made while sandboxes are being recycled only
 * slow the resets down. A start helps a waiter only if it is ready before recycling would have served that
 * waiter anyway. Each lent sandbox is expected back one usual lend (the median of the latest) after it was
 * lent, and then serves a waiter per lend and reset until a start made now would be ready; one out far
 * longer than usual is not counted on (the pool looks again when one turns overdue). With no lend seen
 * yet, nothing is counted on.
 */
export class StartPacing {
  #startMs = INITIAL_START_MS;
  #resetMs = INITIAL_RESET_MS;
  #lends: number[] = [];

  /** A start took `ms` from spawn to ready. */
  started(ms: number): void {
    this.#startMs += SMOOTHING * (ms - this.#startMs);
  }

  /** A reset took `ms` from the reset frame to ready. */
  reset(ms: number): void {
    this.#resetMs += SMOOTHING * (ms - this.#resetMs);
  }

  /** A sandbox came back (to be recycled) `ms` after it was lent. */
  returned(ms: number): void {
    this.#lends.push(ms);
    if (this.#lends.length > LEND_SAMPLES) this.#lends.shift();
  }

  /** The usual lend: the median of the latest, or undefined before any came back. */
  usualLendMs(): number | undefined {
    if (this.#lends.length === 0) return undefined;
    const sorted = [...this.#lends].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * Whether recycling alone keeps the machine's `cores` busy: at least as many sandboxes as cores, and either a
   * usual lend no longer than a reset (the executions are short: a sandbox spends more of its time being reset
   * than serving) or, for a usual lend no longer than a start, `busyCores` (measured, `MachineCpu`) at
   * `SATURATED_SHARE` of them or more (containers giving their sandboxes up under a shortage keep the cores
   * busy with lends longer than a reset). A start then cannot serve a waiter sooner: its ~1.3 s of CPU
   * (start-up, then the tier-up its first runs pay) is taken from the resets that would (a burst of 20 on 2
   * cores made 1-2 starts a round, each the CPU of ~5-10 resets). With no lend seen yet, no. Lends longer
   * than a start never count as saturating: scripts that keep the cores busy for long (one API key's
   * spinning ones) would otherwise hold another key's waiter until they turn overdue (3 usual lends); with
   * lends no longer than a start, that is at most ~3 starts' time.
   */
  recyclingSaturates(sandboxes: number, cores: number, busyCores?: number): boolean {
    const lendMs = this.usualLendMs();
    if (lendMs === undefined || sandboxes < cores) return false;
    if (lendMs <= this.#resetMs) return true;
    return lendMs <= this.#startMs && busyCores !== undefined && busyCores >= SATURATED_SHARE * cores;
  }

  /** `lentAt`: when each sandbox now lent out was lent (performance.now()). */
  forecast(lentAt: Iterable<number>, now = performance.now()): RecyclingForecast {
    const lendMs = this.usualLendMs();
    if (lendMs === undefined) return { served: 0, returning: 0, recheckInMs: undefined };
    const readyAt = now + this.#startMs;
    const cycleMs = Math.max(1, lendMs + this.#resetMs);
    // At least a start's duration: lends of a few ms vary by more than their length (GC, a loaded machine).
    const overdueAfterMs = Math.max(OVERDUE_FACTOR * lendMs, this.#startMs) + this.#resetMs;
    let served = 0;
    let returning = 0;
    let recheckInMs: number | undefined;
    for (const since of lentAt) {
      const overdueInMs = since + overdueAfterMs - now;
      if (overdueInMs <= 0) continue;
      returning++;
      recheckInMs = recheckInMs === undefined ? overdueInMs : Math.min(recheckInMs, overdueInMs);
      const firstReady = Math.max(since + lendMs, now) + this.#resetMs;
      if (firstReady <= readyAt) served += 1 + Math.floor((readyAt - firstReady) / cycleMs);
    }
    return { served, returning, recheckInMs };
  }
}
