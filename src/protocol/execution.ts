import type { ErrorCode, LimitCode } from "./errors.js";
import type { JsonValue } from "./json-schema.js";
import type { ToolCaller } from "./tool.js";

/**
 * How tool results reach the script. `json`: decoded values (dict, list, str, ...), and `json.loads`
 * accepts an already-decoded value so hosted-style scripts keep working. `text`: every result is a
 * `str`, exactly as Anthropic's hosted code execution delivers them.
 */
export type ResultMode = "json" | "text";

/**
 * The language of a script. `python` runs in Pyodide (its state kept in a named container between
 * executions); `javascript` and `typescript` (types stripped, not checked) run in a fresh QuickJS per
 * execution, with no state kept between executions even in a named container.
 */
export type ScriptLanguage = "python" | "javascript" | "typescript";

/** Every `ScriptLanguage`, for validating a request. */
export const SCRIPT_LANGUAGES: readonly ScriptLanguage[] = ["python", "javascript", "typescript"];

export interface IsolationReport {
  /** `namespaces`: bubblewrap (no network, fresh mount/pid/user namespaces) + Node permission model. */
  level: "namespaces" | "permission-model" | "process";
  runtime: string;
  nodeVersion: string;
  bubblewrap: boolean;
  networkBlocked: boolean;
  filesystem: "pyodide-read-only" | "pyodide-and-host-read-only";
  codeGenerationFromStrings: false;
  stackSwitching: boolean;
  notes: string[];
}

export interface ToolCallRequest {
  id: string;
  name: string;
  input: Record<string, unknown>;
  caller: { type: ToolCaller; executionId: string };
}

export type ToolOutcome = { ok: true; value: JsonValue } | { ok: false; error: ToolFailure };

export interface ToolFailure {
  code: ErrorCode | string;
  message: string;
}

export interface ToolCallRecord {
  id: string;
  name: string;
  /** As the handler received it; `{}` for a refused call whose input was not kept (over 4 KiB, or invalid). */
  input: Record<string, unknown>;
  /** Size of the input as the script sent it (JSON, UTF-8). */
  inputBytes: number;
  ok: boolean;
  /**
   * `cancelled`: nobody will use the result: the script gave up on the call (`asyncio.wait_for`,
   * `task.cancel()`, a TaskGroup that aborted) or the execution ended first. The handler's signal is aborted.
   */
  outcome: "ok" | "error" | "cancelled";
  /** Pending calls are resolved by whoever called `execute` (a client, the HTTP server). */
  resolvedBy: "handler" | "caller" | "host";
  error?: ToolFailure;
  durationMs: number;
  resultBytes: number;
}

export interface ExecutionError {
  code: ErrorCode;
  /** The Python exception's type or the JavaScript error's name, or a ptc type such as `TimeoutError` for limits. */
  type: string;
  message: string;
  traceback?: string;
  /** Line of the script where the error surfaced, when known. */
  line?: number;
}

export interface ExecutionTimings {
  totalMs: number;
  /** Waiting for a sandbox (0 when the pool had one warm). */
  sandboxWaitMs: number;
  /** Script time excluding tool waits, the quantity `activeTimeoutMs` bounds. */
  activeMs: number;
  toolWaitMs: number;
}

export interface ContextSavings {
  /** Bytes of tool results the script saw that never entered the model's context. */
  toolResultBytes: number;
  toolResultTokens: number;
  /** What does reach the model: the script's stdout and stderr. */
  outputBytes: number;
  outputTokens: number;
  tokenizer: string;
}

export interface ExecutionResult {
  executionId: string;
  containerId: string;
  status: "completed" | "failed" | "cancelled";
  stdout: string;
  stderr: string;
  returnCode: number;
  error: ExecutionError | null;
  toolCalls: ToolCallRecord[];
  timings: ExecutionTimings;
  isolation: IsolationReport;
  truncated: { stdout: boolean; stderr: boolean };
  /** Every limit that engaged, fatal or not (output truncation, throttled concurrency, ...). */
  limitsHit: LimitCode[];
  contextSavings: ContextSavings;
  /** True when the container's previous sandbox was lost (killed, crashed) and this one started clean. */
  containerReset: boolean;
}

export type ExecutionEvent =
  | { type: "execution-start"; executionId: string; containerId: string }
  | { type: "tool-call"; call: ToolCallRequest; pending: boolean }
  | { type: "tool-result"; callId: string; name: string; outcome: ToolOutcome; durationMs: number }
  | { type: "stdout"; text: string }
  | { type: "stderr"; text: string }
  /**
   * The script can do nothing until the caller answers these calls: the sandbox reported it idle while
   * only calls without a handler were outstanding. Sent again after each resume that ends in a new pause.
   */
  | { type: "execution-paused"; pendingCallIds: string[] }
  | { type: "done"; result: ExecutionResult };

/**
 * The ordered record of everything that crossed the sandbox boundary. Guest code is deterministic
 * given its tool results, so replaying these entries into a fresh sandbox resumes an execution.
 */
export type JournalEntry =
  | {
      seq: number;
      type: "execution-start";
      at: number;
      code: string;
      /** Absent in journals written before there were other languages: python. */
      language?: ScriptLanguage;
      containerId: string;
      toolNames: string[];
    }
  | { seq: number; type: "tool-call"; at: number; callId: string; guestCallId: number; name: string; input: JsonValue }
  | { seq: number; type: "tool-result"; at: number; callId: string; outcome: ToolOutcome }
  | { seq: number; type: "execution-end"; at: number; status: ExecutionResult["status"]; error: ExecutionError | null };
