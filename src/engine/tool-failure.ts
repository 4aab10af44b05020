import { ErrorCode, type LimitCode, PtcError } from "../protocol/errors.js";
import type { ToolFailure } from "../protocol/execution.js";
import { redactSecrets } from "./redact-secrets.js";

/** A tool error message reaches the script (and the model) at most this long. */
export const MAX_TOOL_ERROR_MESSAGE_CHARS = 2_000;
/** Redaction looks at this much, so that a secret cut by the final truncation is still recognised whole. */
const REDACTION_WINDOW_CHARS = 4 * MAX_TOOL_ERROR_MESSAGE_CHARS;

/** A message fit to leave the host: bounded, redacted, never empty. */
export function safeToolMessage(message: string, fallback = "the tool failed"): string {
  const redacted = redactSecrets(message.slice(0, REDACTION_WINDOW_CHARS)).trim();
  const bounded =
    redacted.length > MAX_TOOL_ERROR_MESSAGE_CHARS ? `${redacted.slice(0, MAX_TOOL_ERROR_MESSAGE_CHARS)}…` : redacted;
  return bounded.length > 0 ? bounded : fallback;
}

/** Reads what a handler threw without trusting it: getters, Proxies and `toString` may throw too. */
function thrownMessage(error: unknown): string {
  try {
    if (typeof error === "string") return error;
    if (error === null || error === undefined) return `the tool failed (it threw ${String(error)})`;
    if (typeof error === "object" || typeof error === "function") {
      const message: unknown = (error as { message?: unknown }).message;
      if (typeof message === "string") return message;
      return "the tool failed (it threw a value that is not an Error)";
    }
    return `the tool failed (it threw ${typeof error} ${String(error)})`;
  } catch {
    return "the tool failed (its error could not be read)";
  }
}

/**
 * Turns whatever a handler threw into a tool failure: a message only (no stack, no host paths),
 * redacted, bounded. A PtcError keeps its stable code; anything else is `tool_error`.
 */
export function handlerFailure(error: unknown): ToolFailure & { code: ErrorCode } {
  let code: ErrorCode = ErrorCode.ToolError;
  try {
    if (PtcError.is(error)) code = error.code;
  } catch {}
  return { code, message: safeToolMessage(thrownMessage(error)) };
}

/**
 * What a handler's failure is for the script: its failure, the limit it counts as, and the Python error
 * type. A source that stopped reading a result past the limit (an HTTP tool server's response) counts as
 * that limit. A source's own deadline (the same as the engine's timer, so either may fire first) is a
 * timeout like the engine's: the script sees ToolTimeoutError whichever won.
 */
export function handlerFailureOutcome(error: unknown): {
  failure: ToolFailure & { code: ErrorCode };
  limit: LimitCode | undefined;
  errorType: string;
} {
  const failure = handlerFailure(error);
  if (failure.code === ErrorCode.ToolTimeout)
    return { failure, limit: ErrorCode.ToolTimeout, errorType: "ToolTimeoutError" };
  const limit = failure.code === ErrorCode.ToolResultTooLarge ? ErrorCode.ToolResultTooLarge : undefined;
  return { failure, limit, errorType: "ToolError" };
}

/** Why a handler's return value cannot be sent to the script, in words a script author can act on. */
export function unserializableResult(error: unknown, value: unknown): string {
  const kind = typeof value;
  if (kind === "function" || kind === "symbol") return `tool result is a ${kind}, which is not JSON`;
  if (error instanceof RangeError) return "tool result nests too deeply to serialize as JSON";
  const message = thrownMessage(error);
  if (error instanceof TypeError && /BigInt/.test(message)) return "tool result contains a BigInt, which is not JSON";
  if (error instanceof TypeError && /circular/i.test(message)) return "tool result contains a circular reference";
  return safeToolMessage(`tool result is not JSON-serializable: ${message}`);
}
