import { availableParallelism } from "node:os";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { EarliestTimer } from "./earliest-timer.js";
import { MachineCpu } from "./machine-cpu.js";
import { ensureMemorySnapshot, markSnapshotUsed } from "./memory-snapshot.js";
import { StartPacing } from "./pool-start-pacing.js";
import {
  DEFAULT_MAX_CONCURRENT_STARTS,
  DEFAULT_MAX_SANDBOX_RESETS,
  DEFAULT_POOL_IDLE_MS,
  DEFAULT_POOL_SIZE,
  DEFAULT_START_TIMEOUT_MS,
  type SandboxPoolOptions,
  type SandboxPoolStats,
} from "./sandbox-pool-options.js";
import { SandboxProcess } from "./sandbox-process.js";
import { needsReset, timesServedAgain } from "./sandbox-reuse.js";
import { checkSandboxIsolation, resolveSandboxRuntime, type SandboxRuntime } from "./sandbox-runtime.js";

const REFILL_DELAY_MS = 250;

interface Waiter {
  resolve: (sandbox: SandboxProcess) => void;
  reject: (error: Error) => void;
}

interface Warm {
  sandbox: SandboxProcess;
  /** When it became warm (performance.now()). */
  since: number;
}

/**
 * Keeps pre-loaded sandboxes ready so an execution does not pay Pyodide's start-up. A sandbox leaves the
 * pool for one container; a one-off execution's comes back through `recycle` (a fresh interpreter in the
 * same process, ~7× cheaper than a start), a container's never does: ending the container kills it.
 *
 * The pool grows with demand and shrinks when idle: a waiter is served by whichever comes first, a
 * recycled sandbox or a new start; new starts are made only while the waiters outnumber what the sandboxes
 * being reset, and the stream of recycled ones, will serve before a start would be ready (`StartPacing`);
 * warm sandboxes beyond `size` are killed after `idleMs`.
 */
export class SandboxPool {
  readonly runtime: SandboxRuntime;
  readonly #size: number;
  readonly #maxConcurrentStarts: number;
  readonly #memoryBytes: number;
  readonly #startTimeoutMs: number;
  readonly #idleMs: number;
  readonly #maxResets: number;
  readonly #cores: number;
  /** Most recently warmed last: taken from the end, so the ones at the front idle out. */
  #warm: Warm[] = [];
  #starting = 0;
  #resetting = new Set<SandboxProcess>();
  #waiters: Waiter[] = [];
  #closed = false;
  #started = 0;
  #failedStarts = 0;
  #recycled = 0;
  #failedResets = 0;
  #retired = 0;
  #trimmed = 0;
  #lastStartError: Error | null = null;
  #live = new Set<SandboxProcess>();
  /**
   * Every sandbox this pool started whose process and pipes are not all gone yet: one that exited a moment
   * ago leaves `#live` then, but its pipes may still be open, and `close()` waits for those too.
   */
  #unclosed = new Set<SandboxProcess>();
  /** Sandboxes lent out (to executions and containers), and when (performance.now()): what may come back. */
  #lentAt = new Map<SandboxProcess, number>();
  #snapshot: Promise<string | null>;
  #pacing = new StartPacing();
  readonly #machineCpu = new MachineCpu();
  readonly #shortageListeners = new Set<() => void>();
  /** When an acquire last found no warm sandbox (performance.now()): demand beyond the pool's size. */
  #lastShortage = Number.NEGATIVE_INFINITY;
  #trimTimer: NodeJS.Timeout | null = null;
  readonly #recheck = new EarliestTimer(() => this.#fill());

  constructor(options: SandboxPoolOptions = {}) {
    this.runtime = resolveSandboxRuntime(options);
    checkSandboxIsolation(this.runtime, options.allowDegradedIsolation);
    this.#size = options.size ?? DEFAULT_POOL_SIZE;
    this.#maxConcurrentStarts = Math.max(1, options.maxConcurrentStarts ?? DEFAULT_MAX_CONCURRENT_STARTS);
    this.#memoryBytes = options.memoryBytes ?? 512 * 1_048_576;
    this.#startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.#idleMs = Math.max(0, options.idleMs ?? DEFAULT_POOL_IDLE_MS);
    this.#maxResets = Math.max(0, options.maxResets ?? DEFAULT_MAX_SANDBOX_RESETS);
    this.#cores = Math.max(1, options.cores ?? availableParallelism());
    this.#snapshot = options.snapshot === false ? Promise.resolve(null) : ensureMemorySnapshot(this.runtime);
    this.#fill();
  }

  stats(): SandboxPoolStats {
    return {
      warm: this.#warm.length,
      starting: this.#starting,
      resetting: this.#resetting.size,
      waiting: this.#waiters.length,
      started: this.#started,
      failedStarts: this.#failedStarts,
      recycled: this.#recycled,
      failedResets: this.#failedResets,
      retired: this.#retired,
      trimmed: this.#trimmed,
      live: this.#live.size,
    };
  }

  /** Process ids of every sandbox alive now (the root process: bubblewrap's, or the node child's). */
  livePids(): number[] {
    return [...this.#live].flatMap((sandbox) => (sandbox.pid === undefined ? [] : [sandbox.pid]));
  }

  /**
   * Resolves once the pool holds its target of warm sandboxes and nothing is being reset (for benchmarks
   * and `doctor`).
   */
  async warmUp(): Promise<void> {
    while (!this.#closed && (this.#warm.length < this.#size || this.#resetting.size > 0)) {
      if (this.#failedStarts > 0 && this.#lastStartError) throw this.#lastStartError;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * A ready sandbox, owned by the caller from now on (kill it when done, or give it back with `recycle`).
   * `cancel`'s signal (an AbortController, or an execution's lazy one) is read only if the call has to wait.
   */
  acquire(cancel?: { readonly signal: AbortSignal }): Promise<SandboxProcess> {
    if (this.#closed) return Promise.reject(new PtcError(ErrorCode.EngineClosed, "the sandbox pool is closed"));
    const sandbox = this.#takeWarm();
    if (sandbox) {
      // Spawning blocks this thread for a few ms and the start-up competes for CPU: refill a little
      // later, so that a short execution that just took a warm sandbox does not pay for it.
      if (this.#warm.length < this.#size) setTimeout(() => this.#fill(), REFILL_DELAY_MS).unref();
      this.#lentAt.set(sandbox, performance.now());
      return Promise.resolve(sandbox);
    }
    this.#lastShortage = performance.now();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.#waiters.push(waiter);
      cancel?.signal.addEventListener(
        "abort",
        () => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(new PtcError(ErrorCode.Cancelled, "cancelled while waiting for a sandbox"));
        },
        { once: true },
      );
      // Listeners first: a sandbox they give back (a durable node's idle container) spares a start. One that
      // throws must not reject this acquire with the waiter still queued (a sandbox handed to it would be lost).
      for (const listener of this.#shortageListeners) {
        try {
          listener();
        } catch {}
      }
      this.#fill();
    });
  }

  /** `listener` runs each time an acquire finds no warm sandbox and waits; the returned function unsubscribes. */
  onShortage(listener: () => void): () => void {
    this.#shortageListeners.add(listener);
    return () => this.#shortageListeners.delete(listener);
  }

  /**
   * Takes back a sandbox of this pool whose one-off execution ended cleanly (completed, or a guest
   * exception: no limit hit, timeout, cancellation or fault), so that the process serves another execution
   * with a fresh interpreter. The reset runs off the caller's path; the sandbox is killed instead when it is
   * not idle, has served `maxResets`, the reset fails, or nobody has needed more than `size` for `idleMs`.
   * Never pass a sandbox whose Python state must persist (a live container's).
   */
  recycle(sandbox: SandboxProcess): void {
    const lentAt = this.#lentAt.get(sandbox);
    if (lentAt !== undefined) {
      this.#lentAt.delete(sandbox);
      if (sandbox.alive) this.#pacing.returned(performance.now() - lentAt);
    }
    if (this.#closed || !this.#live.has(sandbox) || !sandbox.alive || sandbox.busy) {
      sandbox.kill();
      return;
    }
    if (timesServedAgain(sandbox) >= this.#maxResets) {
      if (this.#maxResets > 0) this.#retired++;
      sandbox.kill();
      this.#fill();
      return;
    }
    const needed =
      this.#waiters.length > 0 ||
      this.#warm.length + this.#resetting.size < this.#size ||
      performance.now() - this.#lastShortage < this.#idleMs;
    if (!needed) {
      this.#trimmed++;
      sandbox.kill();
      return;
    }
    if (!needsReset(sandbox)) {
      // Only JavaScript ran in it: nothing of Python's to put back (sandbox-reuse.ts).
      sandbox.markReused();
      this.#recycled++;
      this.#ready(sandbox);
      return;
    }
    this.#resetting.add(sandbox);
    const resetAt = performance.now();
    sandbox.reset().then(
      () => {
        if (!this.#resetting.delete(sandbox)) return;
        this.#recycled++;
        this.#pacing.reset(performance.now() - resetAt);
        if (this.#closed || !sandbox.alive) sandbox.kill();
        else this.#ready(sandbox);
      },
      () => {
        this.#resetting.delete(sandbox);
        this.#failedResets++;
        sandbox.kill();
        this.#fill();
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#trimTimer) clearTimeout(this.#trimTimer);
    this.#recheck.clear();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new PtcError(ErrorCode.EngineClosed, "the sandbox pool is closed"));
    }
    const live = [...this.#live];
    this.#lentAt.clear();
    this.#warm = [];
    this.#resetting.clear();
    for (const sandbox of live) sandbox.kill();
    await Promise.all([...this.#unclosed].map((sandbox) => sandbox.closed));
  }

  #takeWarm(): SandboxProcess | undefined {
    while (this.#warm.length > 0) {
      const sandbox = this.#warm.pop()?.sandbox;
      if (sandbox?.alive) return sandbox;
    }
    return undefined;
  }

  /** A sandbox ready for an execution (started or reset): to the oldest waiter, else warm. */
  #ready(sandbox: SandboxProcess): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      // The shortage lasted until now: sandboxes coming back soon are worth resetting.
      this.#lastShortage = performance.now();
      this.#lentAt.set(sandbox, this.#lastShortage);
      waiter.resolve(sandbox);
    } else {
      this.#warm.push({ sandbox, since: performance.now() });
      this.#scheduleTrim();
    }
    this.#fill();
  }

  #fill(): void {
    while (!this.#closed && this.#starting < this.#maxConcurrentStarts) {
      const ready = this.#warm.length + this.#starting + this.#resetting.size;
      // Waiters are served by what is starting or resetting, then by lent sandboxes as they come back and are
      // reset, before a start would be ready; the pool's size, by those and the lent ones counted on to come
      // back at all. A start only for the rest (pool-start-pacing.ts). With nothing lent, nothing is forecast.
      const { served, returning, recheckInMs } = this.#pacing.forecast(this.#lentAt.values());
      // Recycling already uses every core (one sandbox a core or more, some lent or being reset, and short
      // lends or the cores measured busy): no start, whatever the forecast; each sandbox reset or back calls
      // this again. Being reset counts: in a burst, every sandbox being reset and none lent is the usual moment.
      const recycling = returning > 0 || this.#resetting.size > 0;
      const saturated =
        recycling && this.#pacing.recyclingSaturates(this.#live.size, this.#cores, this.#machineCpu.busyCores());
      if ((saturated || ready + served >= this.#waiters.length) && ready + returning >= this.#size) {
        // Look again when the forecast drops (a lent sandbox overdue): no other event may come.
        if (recheckInMs !== undefined) this.#recheck.in(recheckInMs);
        return;
      }
      this.#startOne();
    }
  }

  /** Kills warm sandboxes beyond `size` that have been idle `idleMs`, the longest idle first. */
  #scheduleTrim(): void {
    if (this.#trimTimer || this.#closed || this.#warm.length <= this.#size) return;
    const oldest = this.#warm[0]?.since ?? performance.now();
    const due = Math.max(0, oldest + this.#idleMs - performance.now());
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = null;
      const now = performance.now();
      while (this.#warm.length > this.#size && (this.#warm[0]?.since ?? now) + this.#idleMs <= now) {
        this.#warm.shift()?.sandbox.kill();
        this.#trimmed++;
      }
      this.#scheduleTrim();
    }, due + 10);
    this.#trimTimer.unref();
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
    const startedAt = performance.now();
    // Each start marks the snapshot used, so another ptc's prune of the cache keeps it (memory-snapshot.ts);
    // one removed anyway (by hand) costs a cold start, not a failed one.
    const snapshot = snapshotPath !== null && markSnapshotUsed(snapshotPath) ? snapshotPath : null;
    // Warm, starting and idle in a container, a sandbox does not keep the host alive: only while it runs.
    const sandbox = new SandboxProcess(this.runtime, this.#memoryBytes, snapshot, true);
    this.#live.add(sandbox);
    this.#unclosed.add(sandbox);
    void sandbox.closed.then(() => this.#unclosed.delete(sandbox));
    void sandbox.exited.then(() => {
      this.#live.delete(sandbox);
      this.#resetting.delete(sandbox);
      // A lent sandbox that died will not come back: what it was counted on for may need a start.
      if (this.#lentAt.delete(sandbox)) this.#fill();
      const index = this.#warm.findIndex((warm) => warm.sandbox === sandbox);
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
        this.#pacing.started(performance.now() - startedAt);
        if (this.#closed) sandbox.kill();
        else this.#ready(sandbox);
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
