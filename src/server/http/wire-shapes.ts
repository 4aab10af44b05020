import type {
  ExecutionError,
  ExecutionEvent,
  ExecutionResult,
  ToolCallRecord,
  ToolCallRequest,
  ToolOutcome,
} from "../../protocol/execution.js";
import type { ContainerView } from "./container-records.js";
import type { StoredExecution } from "./stored-execution.js";

/**
 * The snake_case wire shapes. Mapped field by field (never by a generic key rewrite) so user data,
 * tool inputs and results, crosses unchanged.
 */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** Only for ptc's own flat records (timings, stats, isolation): their values are numbers, strings, lists. */
export function snakeKeys(record: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [snake(key), value]));
}

export function wireToolCall(call: ToolCallRequest): Record<string, unknown> {
  return {
    id: call.id,
    name: call.name,
    input: call.input,
    caller: { type: call.caller.type, execution_id: call.caller.executionId },
  };
}

function wireError(error: ExecutionError | null): Record<string, unknown> | null {
  if (!error) return null;
  return {
    code: error.code,
    type: error.type,
    message: error.message,
    ...(error.traceback !== undefined ? { traceback: error.traceback } : {}),
    ...(error.line !== undefined ? { line: error.line } : {}),
  };
}

function wireCallRecord(record: ToolCallRecord): Record<string, unknown> {
  return {
    id: record.id,
    name: record.name,
    input: record.input,
    input_bytes: record.inputBytes,
    ok: record.ok,
    outcome: record.outcome,
    resolved_by: record.resolvedBy,
    ...(record.error ? { error: record.error } : {}),
    duration_ms: record.durationMs,
    result_bytes: record.resultBytes,
  };
}

export function wireResult(result: ExecutionResult): Record<string, unknown> {
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    return_code: result.returnCode,
    error: wireError(result.error),
    tool_calls: result.toolCalls.map(wireCallRecord),
    timings: snakeKeys(result.timings),
    isolation: snakeKeys(result.isolation),
    truncated: result.truncated,
    limits_hit: result.limitsHit,
    context_savings: snakeKeys(result.contextSavings),
    container_reset: result.containerReset,
  };
}

export function wireExecution(entry: StoredExecution): Record<string, unknown> {
  return {
    type: "execution",
    id: entry.id,
    status: entry.status,
    language: entry.request.language ?? "python",
    container_id: entry.containerId,
    created_at: new Date(entry.createdAt).toISOString(),
    finished_at: entry.finishedAt !== undefined ? new Date(entry.finishedAt).toISOString() : null,
    pending_tool_calls: entry.pendingToolCalls().map(wireToolCall),
    result: entry.result ? wireResult(entry.result) : null,
  };
}

function wireOutcome(outcome: ToolOutcome): Record<string, unknown> {
  return outcome.ok ? { ok: true, value: outcome.value } : { ok: false, error: outcome.error };
}

/** SSE `data:` of one event; the event's `type` goes in the `event:` field. */
export function wireEvent(event: ExecutionEvent): Record<string, unknown> {
  switch (event.type) {
    case "execution-start":
      return { execution_id: event.executionId, container_id: event.containerId };
    case "tool-call":
      return { call: wireToolCall(event.call), pending: event.pending };
    case "tool-result":
      return {
        call_id: event.callId,
        name: event.name,
        outcome: wireOutcome(event.outcome),
        duration_ms: event.durationMs,
      };
    case "stdout":
    case "stderr":
      return { text: event.text };
    case "execution-paused":
      return { pending_call_ids: event.pendingCallIds };
    case "done":
      return { result: wireResult(event.result) };
  }
}

export function wireContainer(view: ContainerView): Record<string, unknown> {
  return {
    type: "container",
    id: view.id,
    status: view.status,
    created_at: new Date(view.createdAt).toISOString(),
    last_used_at: new Date(view.lastUsed).toISOString(),
    expires_at: new Date(view.expiresAt).toISOString(),
  };
}
