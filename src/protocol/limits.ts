import { ErrorCode, PtcError } from "./errors.js";

/** Every limit is a named default, overridable per execution and resolved once into a policy. */
export const DEFAULT_WALL_TIMEOUT_MS = 600_000;
/**
 * Time the script itself runs, excluding waits for tool results; where the host can read the sandbox's
 * CPU time (Linux), at most that CPU time, so sleeping (time.sleep, asyncio.sleep) counts only against
 * the wall timeout.
 */
export const DEFAULT_ACTIVE_TIMEOUT_MS = 30_000;
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;
/** Calls the caller resolves (no handler) wait this long, then raise TimeoutError, as Anthropic does. */
export const DEFAULT_PENDING_TOOL_TIMEOUT_MS = 270_000;
export const DEFAULT_MAX_TOOL_CALLS = 1_000;
export const DEFAULT_MAX_CONCURRENT_TOOL_CALLS = 16;
export const DEFAULT_MAX_OUTPUT_BYTES = 1_048_576;
export const DEFAULT_MEMORY_BYTES = 512 * 1_048_576;
export const DEFAULT_MAX_TOOL_INPUT_BYTES = 10 * 1_048_576;
/**
 * Every byte of tool input an execution sends, refused calls included: the host parses and checks each
 * one (~30 ms of its event loop per 10 MiB) and keeps the accepted ones for the record and the journal.
 */
export const DEFAULT_MAX_TOTAL_TOOL_INPUT_BYTES = 32 * 1_048_576;
/** One tool result, as JSON: a larger one fails that call with `tool_result_too_large`. */
export const DEFAULT_MAX_TOOL_RESULT_BYTES = 10 * 1_048_576;
/**
 * All of an execution's tool results together, as JSON: the host keeps each one (journal, token count)
 * until the execution ends, so this bounds what one execution makes the host hold (16 running: 1 GiB).
 */
export const DEFAULT_MAX_TOTAL_TOOL_RESULT_BYTES = 64 * 1_048_576;

export interface ExecutionLimits {
  wallTimeoutMs: number;
  activeTimeoutMs: number;
  toolTimeoutMs: number;
  pendingToolTimeoutMs: number;
  maxToolCalls: number;
  maxConcurrentToolCalls: number;
  /** Per stream (stdout, stderr); output past it is dropped and marked, the script keeps running. */
  maxOutputBytes: number;
  /** Cap on the sandbox's WebAssembly memory; growth past it raises MemoryError in the script. */
  memoryBytes: number;
  maxToolInputBytes: number;
  maxTotalToolInputBytes: number;
  maxToolResultBytes: number;
  maxTotalToolResultBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ExecutionLimits> = Object.freeze({
  wallTimeoutMs: DEFAULT_WALL_TIMEOUT_MS,
  activeTimeoutMs: DEFAULT_ACTIVE_TIMEOUT_MS,
  toolTimeoutMs: DEFAULT_TOOL_TIMEOUT_MS,
  pendingToolTimeoutMs: DEFAULT_PENDING_TOOL_TIMEOUT_MS,
  maxToolCalls: DEFAULT_MAX_TOOL_CALLS,
  maxConcurrentToolCalls: DEFAULT_MAX_CONCURRENT_TOOL_CALLS,
  maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
  memoryBytes: DEFAULT_MEMORY_BYTES,
  maxToolInputBytes: DEFAULT_MAX_TOOL_INPUT_BYTES,
  maxTotalToolInputBytes: DEFAULT_MAX_TOTAL_TOOL_INPUT_BYTES,
  maxToolResultBytes: DEFAULT_MAX_TOOL_RESULT_BYTES,
  maxTotalToolResultBytes: DEFAULT_MAX_TOTAL_TOOL_RESULT_BYTES,
});

/** Merges overrides onto defaults once; rejects values that would make a limit meaningless. */
export function resolveLimits(...overrides: ReadonlyArray<Partial<ExecutionLimits> | undefined>): ExecutionLimits {
  const limits: ExecutionLimits = { ...DEFAULT_LIMITS };
  for (const override of overrides) {
    if (!override) continue;
    for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof ExecutionLimits>) {
      const value = override[key];
      if (value === undefined) continue;
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        throw new PtcError(
          ErrorCode.InvalidRequest,
          `limit ${key} must be a positive finite number, got ${String(value)}`,
          {
            limit: key,
          },
        );
      }
      limits[key] = Math.floor(value);
    }
  }
  return limits;
}
