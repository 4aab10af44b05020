/**
 * One unref'd timer that runs `callback` at the earliest of the times asked for since it last ran: for "look
 * again then" where several things may each name a time (a pool's forecast, a shortage's idle containers).
 */
export class EarliestTimer {
  #timer: NodeJS.Timeout | null = null;
  #at = 0;

  constructor(private readonly callback: () => void) {}

  /** Runs the callback in `ms`, unless it is already due sooner. */
  in(ms: number): void {
    const at = performance.now() + ms;
    if (this.#timer && this.#at <= at) return;
    this.clear();
    this.#at = at;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.callback();
    }, ms + 1);
    this.#timer.unref();
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
