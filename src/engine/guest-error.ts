import { ErrorCode } from "../protocol/errors.js";
import type { ExecutionError, ScriptLanguage } from "../protocol/execution.js";
import type { GuestError, SandboxRunOutcome } from "../sandbox/sandbox-process.js";

/**
 * Codes an uncaught ToolError may give the execution: the tool boundary's. The script sets `.code` as it
 * likes (`raise ToolError('x', code='wall_timeout')`), so a limit's code counts only when the host saw
 * that limit hit, and a timeout, a crash or a cancel only ever comes from the host.
 */
const GUEST_CODES = new Set<string>([
  ErrorCode.ToolNotFound,
  ErrorCode.ToolNotAllowed,
  ErrorCode.InvalidToolInput,
  ErrorCode.ToolInputTooLarge,
  ErrorCode.ToolError,
  ErrorCode.ExecutionDepthLimit,
]);
const GUEST_LIMIT_CODES = new Set<string>([
  ErrorCode.ToolCallLimit,
  ErrorCode.ToolTimeout,
  ErrorCode.ToolResultTooLarge,
  ErrorCode.ToolResultTotalLimit,
  ErrorCode.ToolInputTotalLimit,
]);

/** The script's own uncaught exception, as the execution's error: codes only as far as the host saw them. */
export function guestErrorToExecutionError(
  error: GuestError,
  memoryLimitHit: boolean,
  limitsHit: ReadonlySet<string>,
  memoryBytes: number,
  language: ScriptLanguage,
): ExecutionError {
  let code: ErrorCode = language === "python" ? ErrorCode.PythonError : ErrorCode.JavaScriptError;
  if (error.type === "MemoryError" && memoryLimitHit) code = ErrorCode.MemoryLimit;
  else if (
    error.code &&
    (GUEST_CODES.has(error.code) || (GUEST_LIMIT_CODES.has(error.code) && limitsHit.has(error.code)))
  ) {
    code = error.code as ErrorCode;
  }
  const result: ExecutionError = { code, type: error.type, message: error.message, traceback: error.traceback };
  if (typeof error.line === "number") result.line = error.line;
  // A bare MemoryError (or any exception raised without arguments) has no message of its own.
  if (code === ErrorCode.MemoryLimit && result.message === "") {
    result.message = `the script reached its memory limit of ${memoryBytes} bytes`;
  } else if (result.message === "") {
    result.message = result.type;
  }
  return result;
}

/** Why a sandbox process ended under a script, from what the host saw of its end. */
export function sandboxEndError(outcome: Extract<SandboxRunOutcome, { kind: "exited" }>): ExecutionError {
  // Memory the WebAssembly cap does not see (ArrayBuffers, JS arrays and strings built through `js`):
  // the host killed the sandbox past its bound, or V8's heap limit ended it.
  if (outcome.memoryLimit) {
    const what =
      outcome.memoryLimit.kind === "resident"
        ? `used more than ${outcome.memoryLimit.boundBytes} bytes (its memory limit plus the runtime's own overhead) and was stopped`
        : "ran out of JavaScript heap (JS objects, arrays or strings built through `js`)";
    return {
      code: ErrorCode.MemoryLimit,
      type: "MemoryError",
      message: `the sandbox ${what}; the sandbox was restarted and the container's Python state is lost`,
    };
  }
  // Deep C-level recursion (repr or json of a 100,000-deep list, or recursion past a raised
  // sys.setrecursionlimit) overflows the JS stack under the interpreter, which Pyodide cannot survive.
  if (outcome.diagnostics.includes("RangeError: Maximum call stack size exceeded")) {
    return {
      code: ErrorCode.SandboxCrashed,
      type: "RecursionError",
      message:
        "the script overflowed the sandbox's stack (recursion or nesting too deep); the sandbox was restarted and the container's Python state is lost",
    };
  }
  return {
    code: ErrorCode.SandboxCrashed,
    type: "SandboxError",
    message: `the sandbox process ended unexpectedly (exit code ${outcome.exitCode}, signal ${outcome.signal})`,
  };
}
