/**
 * What an execution's lease can be cancelled by: `aborted` is read at once; `signal` only by what waits (a
 * container's turn, a sandbox from the pool). AbortController has `signal`; `LazyAbort` has both.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly signal: AbortSignal;
}

/**
 * An abort whose AbortSignal is made only when something asks for it: an execution's (its lease waits for a
 * turn or a sandbox only sometimes) and each tool call's (most handlers never read `context.signal`). Node
 * makes an AbortController's signal at its first read: ~20 µs of the host's CPU in situ (EventTarget's
 * set-up), ~5% of a warm execution's (BENCHMARKS.md, stop 33); with its controller, ~6 µs of a call's ~95
 * (issue 14). Aborted before its signal exists, the signal is born aborted with the first reason.
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
