// The sandbox pool's options, their defaults and its stats (sandbox-pool.ts): what callers configure and read.
import type { SandboxRuntimeOptions } from "./sandbox-runtime.js";

export const DEFAULT_POOL_SIZE = 2;
export const DEFAULT_MAX_CONCURRENT_STARTS = 2;
export const DEFAULT_START_TIMEOUT_MS = 60_000;
/**
 * Warm sandboxes beyond `size` (left over from a burst) are killed once idle this long: a burst's
 * sandboxes (~217 MB RSS each) are gone well within a minute, while a steady stream of executions
 * arriving a few seconds apart keeps what it uses.
 */
export const DEFAULT_POOL_IDLE_MS = 15_000;
/**
 * Executions one sandbox process serves, a fresh interpreter each (`SandboxProcess.reset`), before it is
 * retired and replaced by a new process: bounds whatever a process accumulates across interpreters (V8's
 * heap and code space, fragmentation), at one start (~0.7 s CPU) per this many executions.
 */
export const DEFAULT_MAX_SANDBOX_RESETS = 100;

export interface SandboxPoolOptions extends SandboxRuntimeOptions {
  /** Warm sandboxes kept ready. 0 starts each sandbox on demand. */
  size?: number;
  /** Cold starts are CPU-heavy (Python initialisation); more at once only slows each down. */
  maxConcurrentStarts?: number;
  /**
   * Cores the sandboxes' starts and resets share. While at least this many sandboxes are live and recycling
   * keeps them busy (short executions, or the machine's cores measured busy), the pool starts no more
   * (`StartPacing.recyclingSaturates`). Default `os.availableParallelism()`; set it lower where a CPU quota
   * (a container's cgroup) gives fewer.
   */
  cores?: number;
  /** Start-up memory cap of each sandbox; executions can lower or raise it. */
  memoryBytes?: number;
  startTimeoutMs?: number;
  /** Warm sandboxes beyond `size` are killed after this long unused. Default `DEFAULT_POOL_IDLE_MS`. */
  idleMs?: number;
  /**
   * Times a sandbox process is reset for another one-off execution before it is retired; 0 never reuses
   * one (each is killed after its execution). Default `DEFAULT_MAX_SANDBOX_RESETS`.
   */
  maxResets?: number;
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
  /** Sandboxes taken back after a one-off execution, getting a fresh interpreter. */
  resetting: number;
  waiting: number;
  started: number;
  failedStarts: number;
  /** Resets completed: each served another execution (or went warm) instead of a new start. */
  recycled: number;
  failedResets: number;
  /** Processes killed after `maxResets` resets. */
  retired: number;
  /** Warm sandboxes beyond `size` killed after `idleMs` unused, or not reset because nobody needed them. */
  trimmed: number;
  /** Sandbox processes alive now: warm, starting, resetting, and those owned by executions and containers. */
  live: number;
}
