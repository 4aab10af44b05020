// The store's journal as the engine sees it: the write-ahead an execution writes through, and the replay
// input a rebuild reads back. The store keeps outcomes as (outcome, value); the engine as `ToolOutcome`.
import type { JournaledCall } from "../../engine/replay.js";
import type { WriteAhead } from "../../engine/write-ahead.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { ToolOutcome } from "../../protocol/execution.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { CallResult, ContainerLease, JournalCall, Store } from "../store/store.js";

export function callResultOf(outcome: ToolOutcome): CallResult {
  if (outcome.ok) return { outcome: "ok", value: outcome.value };
  const value: JsonValue = { code: outcome.error.code, message: outcome.error.message };
  return { outcome: outcome.error.code === ErrorCode.Cancelled ? "cancelled" : "error", value };
}

export function toolOutcomeOf(call: Pick<JournalCall, "outcome" | "value">): ToolOutcome | undefined {
  if (call.outcome === undefined) return undefined;
  if (call.outcome === "ok") return { ok: true, value: call.value ?? null };
  const value = call.value as { code?: unknown; message?: unknown } | null;
  const code = typeof value?.code === "string" ? value.code : ErrorCode.ToolError;
  return { ok: false, error: { code, message: typeof value?.message === "string" ? value.message : "" } };
}

/** An execution's stored journal as a replay's calls. */
export function journaledCallsOf(calls: readonly JournalCall[]): JournaledCall[] {
  return calls.map((call) => {
    const outcome = toolOutcomeOf(call);
    return {
      tool: call.tool,
      argsSha256: call.argsSha256,
      callId: call.callId,
      ...(outcome !== undefined ? { outcome, completedOrder: call.completedOrder ?? 0 } : {}),
    };
  });
}

/**
 * The write-ahead of one execution into the store, each write fenced by the container's lease as it is at
 * the write (`lease()`), so a node that lost the container cannot write for it.
 */
export function storeWriteAhead(store: Store, lease: () => ContainerLease, executionId: string): WriteAhead {
  // Async, so a lease that is gone (`lease()` throws) rejects like a refused write.
  return {
    call: async (call) =>
      store.appendCall(lease(), executionId, {
        guestCallId: call.guestCallId,
        callId: call.callId,
        tool: call.tool,
        input: call.input,
      }),
    result: async (result) =>
      store.recordCallResult(lease(), executionId, result.guestCallId, callResultOf(result.outcome)),
  };
}
