// Replay: rebuilding a container's Python state from its journal. The container's earlier executions run
// again in a fresh sandbox with their calls answered from the journal inside the child (no handler runs,
// nothing reaches the broker), then a paused execution runs up to its pause and continues live. What a
// journal entry carries, and how it becomes the run frame's `replay` (bridge.ts), is defined here.
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { JournalEntry, ResultMode, ScriptLanguage, ToolOutcome } from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ToolDefinition } from "../protocol/tool.js";
import {
  encodeToolError,
  MAX_REPLAY_FRAME_CHARS,
  REPLAY_CANCELLED,
  type ReplayCall,
  type ReplayFrame,
} from "../sandbox/pyodide/bridge.js";
import { canonicalJson, sha256Hex } from "../sandbox/pyodide/canonical-json.js";

/** One journaled tool call of an execution, in the order the guest made it. */
export interface JournaledCall {
  tool: string;
  /** SHA-256 (hex) of the input's canonical JSON (`inputFingerprint` in canonical-json.ts). */
  argsSha256: string;
  /** Undefined when none was recorded (the call was pending at the pause): the call is made again live. */
  outcome?: ToolOutcome;
  /** 1, 2, ...: the order outcomes were recorded in within the execution. Required with an outcome. */
  completedOrder?: number;
  /** The call's id (`toolu_…`): a call made again live keeps it, so a client's `tool_result` still names it. */
  callId?: string;
}

/** `ExecuteRequest.replay`: run a journaled execution again. */
export interface ReplayRequest {
  calls: readonly JournaledCall[];
  /**
   * The execution had finished: a call past the journal is a divergence. Default false (a paused
   * execution): calls past the journal, and journaled calls without an outcome, go to the broker live.
   */
  finished?: boolean;
}

/** `engine.restoreContainer`'s input: what a store keeps of a container. */
export interface ContainerHistory {
  /** The container's seed for Python's `random` (`ContainerRecord.seed`). */
  seed: number;
  /**
   * Its finished executions, oldest first. Their output is discarded. Each may name the tools, limits and
   * result mode it ran with (else the history's).
   */
  executions: readonly {
    code: string;
    /** Default python: a replay runs each execution again in its own language. */
    language?: ScriptLanguage;
    calls: readonly JournaledCall[];
    tools?: readonly ToolDefinition[];
    limits?: Partial<ExecutionLimits>;
    resultMode?: ResultMode;
  }[];
  owner?: string;
  origin?: string;
  /** As the executions originally ran: a different tool list or limits can change what the script does. */
  tools?: readonly ToolDefinition[];
  limits?: Partial<ExecutionLimits>;
  resultMode?: ResultMode;
}

export interface RestoreReport {
  containerId: string;
  executions: number;
  calls: number;
  /** Wall time of the rebuild, waiting for a sandbox included. */
  ms: number;
  /** Of that, the time the executions ran (the replay itself, without the wait for a sandbox). */
  runMs: number;
}

/** The fingerprint of a JSON input (the host's side of `inputFingerprint`). */
export function argsSha256(input: unknown): string {
  return sha256Hex(canonicalJson(input));
}

/** The reply the child hands the guest's stub for a recorded outcome, as the broker sent it originally. */
function replyOf(outcome: ToolOutcome): string {
  if (outcome.ok) return `1${JSON.stringify(outcome.value)}`;
  if (outcome.error.code === ErrorCode.Cancelled) return REPLAY_CANCELLED;
  const type = outcome.error.code === ErrorCode.ToolTimeout ? "ToolTimeoutError" : "ToolError";
  return `0${encodeToolError(type, outcome.error.code, outcome.error.message)}`;
}

/** The run frame's replay, refused with `replay_too_large` past `MAX_REPLAY_FRAME_CHARS`. */
export function replayFrame(request: ReplayRequest): ReplayFrame {
  const calls: ReplayCall[] = request.calls.map((call, index) => {
    if (call.outcome !== undefined && !(Number.isSafeInteger(call.completedOrder) && (call.completedOrder ?? 0) > 0)) {
      throw new PtcError(ErrorCode.InvalidRequest, `journaled call ${index + 1} has an outcome but no completedOrder`);
    }
    return {
      tool: call.tool,
      argsSha256: call.argsSha256,
      reply: call.outcome === undefined ? null : replyOf(call.outcome),
      completedOrder: call.outcome === undefined ? 0 : (call.completedOrder ?? 0),
    };
  });
  const frame: ReplayFrame = { calls, finished: request.finished === true };
  const chars = JSON.stringify(frame).length;
  if (chars > MAX_REPLAY_FRAME_CHARS) {
    throw new PtcError(
      ErrorCode.ReplayTooLarge,
      `the journal to replay is ${chars} characters, over the limit of ${MAX_REPLAY_FRAME_CHARS}`,
      { chars, limit: MAX_REPLAY_FRAME_CHARS },
    );
  }
  return frame;
}

/** Ids of the journaled calls without an outcome, in guest order: the live calls that take them again. */
export function resumedCallIds(request: ReplayRequest): string[] {
  return request.calls.flatMap((call) => (call.outcome === undefined && call.callId ? [call.callId] : []));
}

/** An execution's engine journal (`ExecutionHandle.journal()`) as journaled calls, for a replay. */
export function journaledCalls(entries: readonly JournalEntry[]): JournaledCall[] {
  const calls: JournaledCall[] = [];
  const byId = new Map<string, JournaledCall>();
  let completed = 0;
  for (const entry of entries) {
    if (entry.type === "tool-call") {
      const call: JournaledCall = { tool: entry.name, argsSha256: argsSha256(entry.input), callId: entry.callId };
      calls.push(call);
      byId.set(entry.callId, call);
    } else if (entry.type === "tool-result") {
      const call = byId.get(entry.callId);
      if (call && call.outcome === undefined) {
        call.outcome = entry.outcome;
        call.completedOrder = ++completed;
      }
    }
  }
  return calls;
}
