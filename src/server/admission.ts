import { HttpError, WireErrorCode } from "./http/wire-errors.js";

/** Executions holding a slot at once, across the whole server (a paused one keeps its slot: it holds a sandbox). */
export const DEFAULT_MAX_RUNNING_EXECUTIONS = 16;
/** Waiting for a slot, across the whole server; past this, 429 with Retry-After. */
export const DEFAULT_MAX_QUEUED_EXECUTIONS = 64;
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

export interface AdmissionOptions {
  maxRunning?: number;
  maxQueued?: number;
  retryAfterSeconds?: number;
}

/** Gives the slot back. Idempotent: calling it twice frees one slot. */
export type AdmissionRelease = () => void;

export interface AdmissionStats {
  running: number;
  queued: number;
  maxRunning: number;
  maxQueued: number;
}

/**
 * Refusal to admit: 429 `overloaded` with `Retry-After` when the queue is full, 503 `shutting_down`
 * once the controller is closed. An `HttpError`, so the executions API renders it as it is; another
 * endpoint maps `status`, `code` and `retryAfterSeconds` to its own error shape.
 */
export class AdmissionRefusedError extends HttpError {
  constructor(
    status: 429 | 503,
    code: typeof WireErrorCode.Overloaded | typeof WireErrorCode.ShuttingDown,
    message: string,
    /** Set on 429: the `Retry-After` value in seconds. */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(status, code, message, retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) });
  }
}

/**
 * One per server: every execution, from the executions API or `/v1/messages`, takes a slot before
 * `engine.execute` and gives it back when its result has settled. FIFO: a free slot goes to the
 * oldest waiter, and `tryAcquire` never overtakes one.
 */
export interface AdmissionController {
  /**
   * A slot at once, or `undefined` when none is free or someone is already waiting. Never queues,
   * never throws (except after `close`, 503).
   */
  tryAcquire(): AdmissionRelease | undefined;
  /**
   * A slot now or after waiting in the queue. Refusal is decided synchronously, before anything is
   * queued: throws `AdmissionRefusedError` (429 when the queue is full, 503 after `close`) from the
   * call itself, which `await admission.acquire(signal)` sees as a rejection like any other. While
   * queued, aborting `signal` removes the waiter and rejects with `signal.reason`; `close` rejects it
   * with the 503.
   */
  acquire(signal?: AbortSignal): Promise<AdmissionRelease>;
  stats(): AdmissionStats;
  /** Refuses new acquisitions (503) and rejects every queued waiter; slots held are kept until released. */
  close(): void;
}

interface Waiter {
  grant(release: AdmissionRelease): void;
  refuse(error: unknown): void;
}

export function createAdmissionController(options: AdmissionOptions = {}): AdmissionController {
  const maxRunning = options.maxRunning ?? DEFAULT_MAX_RUNNING_EXECUTIONS;
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED_EXECUTIONS;
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  if (!(maxRunning >= 1) || !(maxQueued >= 0)) throw new Error("admission needs maxRunning ≥ 1 and maxQueued ≥ 0");
  const queue: Waiter[] = [];
  let running = 0;
  let closed = false;

  const shuttingDown = () =>
    new AdmissionRefusedError(503, WireErrorCode.ShuttingDown, "the server is shutting down", undefined);

  function slot(): AdmissionRelease {
    running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      const next = queue.shift();
      if (next) next.grant(slot());
    };
  }

  return {
    tryAcquire() {
      if (closed) throw shuttingDown();
      return running < maxRunning && queue.length === 0 ? slot() : undefined;
    },

    acquire(signal) {
      const now = this.tryAcquire();
      if (now) return Promise.resolve(now);
      if (queue.length >= maxQueued) {
        throw new AdmissionRefusedError(
          429,
          WireErrorCode.Overloaded,
          `too many executions: ${running} running and ${queue.length} queued`,
          retryAfterSeconds,
        );
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<AdmissionRelease>((resolve, reject) => {
        const onAbort = () => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          grant: (release) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(release);
          },
          refuse: (error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.push(waiter);
      });
    },

    stats() {
      return { running, queued: queue.length, maxRunning, maxQueued };
    },

    close() {
      if (closed) return;
      closed = true;
      for (const waiter of queue.splice(0)) waiter.refuse(shuttingDown());
    },
  };
}
