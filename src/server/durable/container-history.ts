// What a durable node reads back from a container's history to rebuild it: which executions to replay, with
// what (each API's `Revive`), and the unfinished one's journal with the calls a crash interrupted.
import type { ExecuteRequest } from "../../engine/engine.js";
import type { JournaledCall } from "../../engine/replay.js";
import { ErrorCode } from "../../protocol/errors.js";
import { SCRIPT_LANGUAGES, type ToolOutcome } from "../../protocol/execution.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { ExecutionHistory, JournalCall, StoredExecution } from "../store/store.js";
import { journaledCallsOf } from "./store-journal.js";

/** What an API stores with each execution to run it again, and reads back. */
export interface ExecutionRevival {
  tools?: readonly ToolDefinition[];
  limits?: ExecuteRequest["limits"];
  resultMode?: ExecuteRequest["resultMode"];
  language?: ExecuteRequest["language"];
  newCallId?: () => string;
}

/** Turns a stored execution's `options` (the API's JSON) back into what `engine.execute` needs. */
export type Revive = (execution: StoredExecution) => ExecutionRevival;

/** What a finished execution's stored result holds besides the API's view of it. */
interface FinishedRecord {
  /** The sandbox outlived it: the next execution saw its Python state (replay must run it again). */
  stateKept: boolean;
  result: JsonValue;
}

/** A finished execution's stored result: whether its sandbox outlived it, and the API's view of it. */
export function finishedRecord(stateKept: boolean, view: JsonValue): JsonValue {
  const record: FinishedRecord = { stateKept, result: view };
  return record as unknown as JsonValue;
}

/** The API's view of a finished stored execution (`finishedRecord`'s `view`). */
export function finishedView(execution: StoredExecution): JsonValue | undefined {
  return (execution.result as unknown as FinishedRecord | undefined)?.result;
}

/** A restore's executions, and the execution that was unfinished (if any), from a container's history. */
export function replayPlan(
  history: readonly ExecutionHistory[],
  revive: Revive,
): {
  finished: Array<{ code: string; calls: JournaledCall[] } & ExecutionRevival>;
  unfinished: ExecutionHistory | undefined;
} {
  const unfinished = history.find(({ execution }) => execution.status === "running" || execution.status === "paused");
  // Replay starts after the last execution whose sandbox did not survive: the state began clean there.
  let from = 0;
  history.forEach(({ execution }, index) => {
    const record = execution.result as unknown as FinishedRecord | undefined;
    if (execution !== unfinished?.execution && record?.stateKept !== true) from = index + 1;
  });
  const finished = history
    .slice(from)
    .filter((entry) => entry !== unfinished)
    .map(({ execution, calls }) => ({
      code: execution.code,
      calls: journaledCallsOf(calls),
      ...languageOf(execution),
      ...revive(execution),
    }));
  return { finished, unfinished };
}

/** A stored execution's language as `engine.execute` takes it (the store keeps it as text; python by default). */
export function languageOf(execution: StoredExecution): Pick<ExecutionRevival, "language"> {
  const language = SCRIPT_LANGUAGES.find((known) => known === execution.language);
  return language && language !== "python" ? { language } : {};
}

/**
 * The unfinished execution's journal as a replay's calls. A call of a tool with a handler that has no
 * outcome may have run before the crash: handlers run at most once, so it gets `tool_call_interrupted`,
 * recorded first (`record`) like any outcome. A call for the client keeps waiting for the client's answer.
 */
export async function interruptCalls(
  { calls }: ExecutionHistory,
  revival: ExecutionRevival,
  handlerTools: ReadonlySet<string>,
  record: (call: JournalCall, outcome: ToolOutcome) => Promise<unknown>,
): Promise<JournaledCall[]> {
  const clientTools = new Set((revival.tools ?? []).filter((tool) => !tool.handler).map((tool) => tool.name));
  let completed = calls.reduce((max, call) => Math.max(max, call.completedOrder ?? 0), 0);
  const replay = journaledCallsOf(calls);
  for (const [index, call] of calls.entries()) {
    if (call.outcome !== undefined || clientTools.has(call.tool) || !handlerTools.has(call.tool)) continue;
    const outcome: ToolOutcome = {
      ok: false,
      error: {
        code: ErrorCode.ToolCallInterrupted,
        message: `${call.tool} was interrupted by a server restart and is not run again (tools run at most once)`,
      },
    };
    await record(call, outcome);
    replay[index] = { ...(replay[index] as JournaledCall), outcome, completedOrder: ++completed };
  }
  return replay;
}
