import { ErrorCode, PtcError } from "../protocol/errors.js";
import { safeToolMessage } from "./tool-failure.js";

/**
 * What a caller submits for a pending call: the call's return value as `value`, or as `content` (the name
 * Anthropic's `tool_result` blocks and the executions API use; the same thing), or an `error` the script
 * gets as a `ToolError` (`.code` is the one given, default `tool_error`).
 */
export type ToolResultSubmission =
  | { value: unknown }
  | { content: unknown }
  | { error: string | { message: string; code?: string } };

/** A submission checked: the value to deliver, or the failure to raise in the script. */
export type CheckedSubmission = { ok: true; value: unknown } | { ok: false; code: string; message: string };

const SHAPES = "{ value }, { content } or { error: string | { message: string, code?: string } }";
const KEYS: ReadonlySet<string> = new Set(["value", "content", "error"]);

function kind(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : typeof value;
}

/**
 * Checks a submission's shape before anything settles: it comes from the caller's code, whose types the
 * compiler may never have seen (`submitToolResult(id, "yes")`). Throws PtcError `invalid_request` naming
 * the accepted shapes; the call stays pending, so a corrected submission still answers it.
 */
export function checkSubmission(callId: string, submission: unknown): CheckedSubmission {
  const refuse = (problem: string): never => {
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `submitToolResult(${JSON.stringify(callId)}, …): ${problem}; expected ${SHAPES}`,
      { callId },
    );
  };
  if (typeof submission !== "object" || submission === null || Array.isArray(submission)) {
    return refuse(`the result must be an object, got ${kind(submission)}`);
  }
  const fields = submission as Record<string, unknown>;
  const keys = Object.keys(fields);
  const unexpected = keys.find((key) => !KEYS.has(key));
  if (unexpected !== undefined) return refuse(`unexpected field ${JSON.stringify(unexpected)}`);
  if (keys.length !== 1) return refuse(keys.length === 0 ? "the result is empty" : `give one of ${keys.join(", ")}`);
  if (!("error" in fields)) return { ok: true, value: "value" in fields ? fields.value : fields.content };
  const { error } = fields;
  if (typeof error === "string") return { ok: false, code: ErrorCode.ToolError, message: safeToolMessage(error) };
  if (typeof error !== "object" || error === null || Array.isArray(error)) {
    return refuse(`error must be a string or { message, code? }, got ${kind(error)}`);
  }
  const { message, code } = error as Record<string, unknown>;
  if (typeof message !== "string") return refuse(`error.message must be a string, got ${kind(message)}`);
  if (code !== undefined && (typeof code !== "string" || code.length === 0)) {
    return refuse("error.code must be a non-empty string");
  }
  return { ok: false, code: code ?? ErrorCode.ToolError, message: safeToolMessage(message) };
}
