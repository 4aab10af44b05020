/**
 * What an execution's lease can be cancelled by: `aborted` is read at once; `signal` only by what waits (a
 * container's turn, a sandbox from the pool). AbortController has `signal`; `LazyAbort` has both.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly signal: AbortSignal;
}

/**
 * An abort whose AbortSignal is made only when something asks for it. Node makes an AbortController's signal
 * at its first read, and that costs ~20 µs of the host's CPU in situ (EventTarget's set-up), ~5% of a warm
 * execution's; most executions never wait for anything a signal would end (BENCHMARKS.md, stop 33).
 */
export class LazyAbort implements Cancellation {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** The signal, aborted already (with the same reason) when `abort` came first. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts once: later calls change nothing, as with an AbortController. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
