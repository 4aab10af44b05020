/**
 * Node may fire a timer up to ~1 ms before `performance.now()` says its delay passed (it counts from the
 * event loop's cached, millisecond clock): a deadline this close is due, not re-armed for the rest.
 */
const TIMER_SLACK_MS = 1;
/** Longer delays overflow Node's timers and fire at once: a longer wait is re-armed when this one ends. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Settled calls at the head of the queue are dropped once there are more than this many. */
const COMPACT_AFTER = 1_024;

/**
 * The deadlines of one execution's calls that all wait the same `timeoutMs` (the handler timeout, or the
 * pending-call timeout), under one timer. A `setTimeout` and its `clearTimeout` per call cost ~8 µs of the
 * host's ~95 µs per call (timer list insert and unenroll, BENCHMARKS.md issue 14); here a call costs an
 * array push. Calls are added as they start and all wait the same time, so deadlines come in the order of
 * the queue: its first live call is the earliest. The one timer stays armed for the earliest deadline it
 * was set for; when it fires it expires what is due and re-arms for the first call still waiting, so a run
 * of calls that each settle quickly costs one timer firing per `timeoutMs`, not a timer per call. The
 * timer keeps the process up (is referenced) only while a call waits on it.
 */
export class CallDeadlines<T> {
  #calls: T[] = [];
  #expiresAt: number[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly timeoutMs: number,
    /** False once the call settled or was withdrawn: it is dropped, never expired. */
    private readonly isLive: (call: T) => boolean,
    private readonly expire: (call: T) => void,
  ) {}

  /** Starts `call`'s wait: it expires `timeoutMs` from now unless it settles first. */
  add(call: T): void {
    this.#calls.push(call);
    this.#expiresAt.push(performance.now() + this.timeoutMs);
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#fire(), Math.min(this.timeoutMs, MAX_TIMER_MS));
    else this.#timer.ref();
  }

  /** Forgets the calls that settled at the head of the queue: call after a call settles. */
  prune(): void {
    const calls = this.#calls;
    let head = this.#head;
    while (head < calls.length && !this.isLive(calls[head] as T)) head++;
    if (head === calls.length) {
      // Nothing waits: the timer may fire later for nothing, but must not hold the process up meanwhile.
      this.#timer?.unref();
      // The settled calls stay until there are many: emptying both arrays (a runtime call each) after every
      // call of a sequential script cost more than the rest of this queue's work for it.
      if (head <= COMPACT_AFTER) {
        this.#head = head;
        return;
      }
      calls.length = 0;
      this.#expiresAt.length = 0;
      this.#head = 0;
      return;
    }
    // Compacted once the settled prefix is most of the queue: each call is moved at most a few times.
    if (head > COMPACT_AFTER && head * 2 > calls.length) {
      calls.splice(0, head);
      this.#expiresAt.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  /** Disarms: nothing expires after this. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#calls = [];
    this.#expiresAt = [];
    this.#head = 0;
  }

  #fire(): void {
    this.#timer = undefined;
    this.prune();
    const now = performance.now();
    while (this.#head < this.#calls.length && (this.#expiresAt[this.#head] ?? 0) <= now + TIMER_SLACK_MS) {
      const call = this.#calls[this.#head++] as T;
      if (this.isLive(call)) this.expire(call);
    }
    this.prune();
    if (this.#head < this.#calls.length) {
      const wait = Math.max(TIMER_SLACK_MS, Math.min(MAX_TIMER_MS, (this.#expiresAt[this.#head] ?? now) - now));
      this.#timer = setTimeout(() => this.#fire(), wait);
    }
  }
}
