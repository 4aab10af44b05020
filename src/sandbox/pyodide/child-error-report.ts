// The guest's error report as the sandbox child sends it. Part of the child: erasable syntax and node:
// builtins only (see child.ts).
import type { ErrorReportChars } from "./bridge.ts";
import { isSafeInteger, parseJson, quote, sliceText } from "./child-intrinsics.ts";

/**
 * The guest's report of its error, re-rendered from its primitive fields and cut to the run's caps
 * (`chars`, from the run frame): the script can replace the code that writes it, and a frame longer than
 * the host accepts would end the sandbox. The host checks the report again (guest-error-report.ts).
 */
export function errorReport(errorJson: unknown, chars: ErrorReportChars): string {
  if (errorJson === "") return "null";
  let report: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = typeof errorJson === "string" ? parseJson(errorJson) : null;
    if (parsed !== null && typeof parsed === "object") report = parsed as Record<string, unknown>;
  } catch {}
  if (!report || typeof report.type !== "string" || typeof report.message !== "string") {
    return `{"type":"SandboxError","message":"the script's error report was malformed","traceback":""}`;
  }
  let text = "{";
  for (const field of ["type", "message", "traceback"] as const) {
    const value = typeof report[field] === "string" ? (report[field] as string) : "";
    const limit = chars[field];
    text += `${quote(field)}:${quote(value.length > limit ? `${sliceText(value, 0, limit)}\n[ptc: cut at ${limit} characters]` : value)},`;
  }
  if (isSafeInteger(report.line)) text += `"line":${report.line},`;
  if (isSafeInteger(report.exitCode)) text += `"exitCode":${report.exitCode},`;
  if (typeof report.code === "string") text += `"code":${quote(sliceText(report.code, 0, chars.code))},`;
  return `${sliceText(text, 0, -1)}}`;
}
