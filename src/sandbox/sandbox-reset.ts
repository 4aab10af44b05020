import { ErrorCode, PtcError } from "../protocol/errors.js";

// A sandbox process's reset (`SandboxProcess.reset`): the host writes the reset frame, the child drops its
// Pyodide instance for a fresh one from the memory snapshot and answers with a ready frame. This is the reset
// in flight between the two, and what ends it early.

/**
 * How long `reset()` waits for the child's ready frame. A reset takes ~0.1 s of CPU; this leaves room for a
 * loaded 2-core machine starting sandboxes at the same time, and still frees a stuck child's slot soon.
 */
export const DEFAULT_RESET_TIMEOUT_MS = 10_000;

/** What a refused or failed reset rejects with (the caller kills the process). */
export function resetFailed(sandboxId: number, why: string): PtcError {
  return new PtcError(ErrorCode.SandboxResetFailed, `sandbox reset failed: ${why}`, { sandbox: sandboxId });
}

/**
 * One reset in flight: settled by the child's ready frame (`done`), or by its exit or the timeout (`fail`),
 * whichever comes first; `onSettle` runs before `settled` resolves or rejects, and `onFail` before it rejects.
 */
export class PendingReset {
  readonly settled: Promise<void>;
  #resolve: () => void = () => {};
  #reject: (error: Error) => void = () => {};
  #open = true;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly sandboxId: number,
    timeoutMs: number,
    readonly onSettle: () => void,
    readonly onFail: () => void,
  ) {
    this.settled = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#timer = setTimeout(() => this.fail(`no ready frame within ${timeoutMs} ms`), timeoutMs);
  }

  done(): void {
    if (!this.#settle()) return;
    this.#resolve();
  }

  fail(why: string): void {
    if (!this.#settle()) return;
    this.onFail();
    this.#reject(resetFailed(this.sandboxId, why));
  }

  #settle(): boolean {
    if (!this.#open) return false;
    this.#open = false;
    clearTimeout(this.#timer);
    this.onSettle();
    return true;
  }
}
