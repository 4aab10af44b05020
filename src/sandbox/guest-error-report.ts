import { MAX_ERROR_REPORT_CHARS } from "./pyodide/bridge.js";

/** What the guest reported when a run ended normally. */
export interface GuestError {
  type: string;
  message: string;
  traceback: string;
  line?: number | null;
  code?: string;
  exitCode?: number;
}

/**
 * The guest's report of how its script ended, checked: the script can reach and replace the code that
 * writes it (guest.py's globals, the json module), so anything malformed becomes a plain SandboxError.
 */
export function checkedGuestError(value: unknown): GuestError | null {
  if (value === null || value === undefined) return null;
  const report = value as Record<string, unknown>;
  if (
    typeof value !== "object" ||
    Array.isArray(value) ||
    typeof report.type !== "string" ||
    typeof report.message !== "string"
  ) {
    return { type: "SandboxError", message: "the script's error report was malformed", traceback: "" };
  }
  const error: GuestError = {
    type: report.type.slice(0, MAX_ERROR_REPORT_CHARS.type),
    message: cut(report.message, MAX_ERROR_REPORT_CHARS.message),
    traceback: typeof report.traceback === "string" ? cut(report.traceback, MAX_ERROR_REPORT_CHARS.traceback) : "",
  };
  if (Number.isSafeInteger(report.line)) error.line = report.line as number;
  if (typeof report.code === "string") error.code = report.code.slice(0, MAX_ERROR_REPORT_CHARS.code);
  if (Number.isSafeInteger(report.exitCode)) error.exitCode = report.exitCode as number;
  return error;
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[ptc: cut at ${limit} characters]`;
}
