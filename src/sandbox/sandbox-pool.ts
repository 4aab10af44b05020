import { ErrorCode, PtcError } from "../protocol/errors.js";
import { ensureMemorySnapshot } from "./memory-snapshot.js";
import { SandboxProcess } from "./sandbox-process.js";
import {
  checkSandboxIsolation,
  resolveSandboxRuntime,
  type SandboxRuntime,
  type SandboxRuntimeOptions,
} from "./sandbox-runtime.js";

export const DEFAULT_POOL_SIZE = 2;
export const DEFAULT_MAX_CONCURRENT_STARTS = 2;
export const DEFAULT_START_TIMEOUT_MS = 60_000;
const REFILL_DELAY_MS = 250;

export interface SandboxPoolOptions extends SandboxRuntimeOptions {
  /** Warm sandboxes kept ready. 0 starts each sandbox on demand. */
  size?: number;
  /** Cold starts are CPU-heavy (Python initialisation); more at once only slows each down. */
  maxConcurrentStarts?: number;
  /** Start-up memory cap of each sandbox; executions can lower or raise it. */
  memoryBytes?: number;
  startTimeoutMs?: number;
  /** Start sandboxes from a memory snapshot of an initialised interpreter (default true). */
  snapshot?: boolean;
  /**
   * Run sandboxes on a Node weaker than the one `ptc setup` installs (no network in its permission model,
   * no `asyncio.run`), with a warning once per process. Default false: where setup could install that
   * Node (linux x64/arm64), the pool refuses with a PtcError `isolation_degraded`.
   */
  allowDegradedIsolation?: boolean;
}

export interface SandboxPoolStats {
  warm: number;
  starting: number;
  waiting: number;
  started: number;
  failedStarts: number;
  /** Sandbox processes alive now: warm, starting, and those owned by containers. */
  live: number;
}

interface Waiter {
  resolve: (sandbox: SandboxProcess) => void;
  reject: (error: Error) => void;
}

/**
 * Keeps pre-loaded sandboxes ready so an execution does not pay Pyodide's start-up. A sandbox
 * leaves the pool for exactly one container and never comes back: the container kills it.
 */
export class SandboxPool {
  readonly runtime: SandboxRuntime;
  readonly #size: number;
  readonly #maxConcurrentStarts: number;
  readonly #memoryBytes: number;
  readonly #startTimeoutMs: number;
  #warm: SandboxProcess[] = [];
  #starting = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  #started = 0;
  #failedStarts = 0;
  #lastStartError: Error | null = null;
  #live = new Set<SandboxProcess>();
  #snapshot: Promise<string | null>;

  constructor(options: SandboxPoolOptions = {}) {
    this.runtime = resolveSandboxRuntime(options);
    checkSandboxIsolation(this.runtime, options.allowDegradedIsolation);
    this.#size = options.size ?? DEFAULT_POOL_SIZE;
    this.#maxConcurrentStarts = Math.max(1, options.maxConcurrentStarts ?? DEFAULT_MAX_CONCURRENT_STARTS);
    this.#memoryBytes = options.memoryBytes ?? 512 * 1_048_576;
    this.#startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.#snapshot = options.snapshot === false ? Promise.resolve(null) : ensureMemorySnapshot(this.runtime);
    this.#fill();
  }

  stats(): SandboxPoolStats {
    return {
      warm: this.#warm.length,
      starting: this.#starting,
      waiting: this.#waiters.length,
      started: this.#started,
      failedStarts: this.#failedStarts,
      live: this.#live.size,
    };
  }

  /** Process ids of every sandbox alive now (the root process: bubblewrap's, or the node child's). */
  livePids(): number[] {
    return [...this.#live].flatMap((sandbox) => (sandbox.pid === undefined ? [] : [sandbox.pid]));
  }

  /** Resolves once the pool holds its target of warm sandboxes (for benchmarks and `doctor`). */
  async warmUp(): Promise<void> {
    while (!this.#closed && this.#warm.length < this.#size) {
      if (this.#failedStarts > 0 && this.#lastStartError) throw this.#lastStartError;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A ready sandbox, owned by the caller from now on (kill it when done). */
  acquire(signal?: AbortSignal): Promise<SandboxProcess> {
    if (this.#closed) return Promise.reject(new PtcError(ErrorCode.EngineClosed, "the sandbox pool is closed"));
    const sandbox = this.#takeWarm();
    if (sandbox) {
      // Spawning blocks this thread for a few ms and the start-up competes for CPU: refill a little
      // later, so that a short execution that just took a warm sandbox does not pay for it.
      setTimeout(() => this.#fill(), REFILL_DELAY_MS).unref();
      return Promise.resolve(sandbox);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.#waiters.push(waiter);
      signal?.addEventListener(
        "abort",
        () => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(new PtcError(ErrorCode.Cancelled, "cancelled while waiting for a sandbox"));
        },
        { once: true },
      );
      this.#fill();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new PtcError(ErrorCode.EngineClosed, "the sandbox pool is closed"));
    }
    const live = [...this.#live];
    this.#warm = [];
    for (const sandbox of live) sandbox.kill();
    await Promise.all(live.map((sandbox) => sandbox.closed));
  }

  #takeWarm(): SandboxProcess | undefined {
    while (this.#warm.length > 0) {
      const sandbox = this.#warm.shift();
      if (sandbox?.alive) return sandbox;
    }
    return undefined;
  }

  #fill(): void {
    while (!this.#closed && this.#starting < this.#maxConcurrentStarts) {
      const wanted = this.#size + this.#waiters.length;
      if (this.#warm.length + this.#starting >= wanted) return;
      this.#startOne();
    }
  }

  #startOne(): void {
    this.#starting++;
    void this.#snapshot.then((snapshotPath) => this.#spawn(snapshotPath));
  }

  #spawn(snapshotPath: string | null): void {
    if (this.#closed) {
      this.#starting--;
      return;
    }
    // Warm, starting and idle in a container, a sandbox does not keep the host alive: only while it runs.
    const sandbox = new SandboxProcess(this.runtime, this.#memoryBytes, snapshotPath, true);
    this.#live.add(sandbox);
    void sandbox.exited.then(() => {
      this.#live.delete(sandbox);
      const index = this.#warm.indexOf(sandbox);
      // A warm sandbox that died (killed from outside, crashed) is replaced.
      if (index >= 0) {
        this.#warm.splice(index, 1);
        this.#fill();
      }
    });
    // Unref'd like the starting sandbox itself: a start nobody waits for must not keep the host alive.
    const timer = setTimeout(() => sandbox.kill(), this.#startTimeoutMs);
    timer.unref();
    sandbox.ready.then(
      () => {
        clearTimeout(timer);
        this.#starting--;
        this.#started++;
        this.#failedStarts = 0;
        if (this.#closed) {
          sandbox.kill();
          return;
        }
        const waiter = this.#waiters.shift();
        if (waiter) waiter.resolve(sandbox);
        else this.#warm.push(sandbox);
        this.#fill();
      },
      (error: Error) => {
        clearTimeout(timer);
        this.#starting--;
        this.#failedStarts++;
        this.#lastStartError = error;
        // Repeated start failures mean the runtime is broken: fail waiters instead of spinning.
        if (this.#failedStarts >= 3) {
          for (const waiter of this.#waiters.splice(0)) {
            waiter.reject(new PtcError(ErrorCode.SandboxUnavailable, `sandbox failed to start: ${error.message}`));
          }
          return;
        }
        this.#fill();
      },
    );
  }
}
