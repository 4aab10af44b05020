/** What the guest reported when a run ended normally. */
export interface GuestError {
  type: string;
  message: string;
  traceback: string;
  line?: number | null;
  code?: string;
  exitCode?: number;
}

/** Caps on what the guest reports about its error: it must not carry more than the output cap would. */
const MAX_ERROR_MESSAGE_CHARS = 16_384;
const MAX_TRACEBACK_CHARS = 65_536;

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
    type: report.type.slice(0, 200),
    message: cut(report.message, MAX_ERROR_MESSAGE_CHARS),
    traceback: typeof report.traceback === "string" ? cut(report.traceback, MAX_TRACEBACK_CHARS) : "",
  };
  if (Number.isSafeInteger(report.line)) error.line = report.line as number;
  if (typeof report.code === "string") error.code = report.code;
  if (Number.isSafeInteger(report.exitCode)) error.exitCode = report.exitCode as number;
  return error;
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[ptc: cut at ${limit} characters]`;
}

/** A count the guest reported (bytes dropped): anything but a positive finite number is 0. */
export function count(value: unknown): number {
  const number = Number(value ?? 0);
  return Number.isFinite(number) && number > 0 ? number : 0;
}
