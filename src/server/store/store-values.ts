import { createHash } from "node:crypto";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import { canonicalJson } from "../../sandbox/pyodide/canonical-json.js";
import type { CallResult, ContainerLease, JournalCall, NewCall, StoredContainer, StoredResponse } from "./store.js";

/**
 * Canonical JSON (object keys sorted at every depth) has one definition, shared with replay in the sandbox
 * child: the stored text is compared for idempotency and hashed for replay's divergence check, whatever key
 * order the guest or a driver produced.
 */
export { canonicalJson };

/** SHA-256 as lowercase hex: the child computes the same in JS (canonical-json.ts); here node:crypto is faster. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The value's canonical JSON, refused with `recorded_value_too_large` past `maxBytes` (UTF-8). */
export function recordable(what: string, value: JsonValue, maxBytes: number): string {
  const text = canonicalJson(value);
  checkRecordable(what, text, maxBytes);
  return text;
}

/** `recordable` for a value that is already text (code). */
export function checkRecordable(what: string, text: string, maxBytes: number): void {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: skip the exact count for small values.
  if (text.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new PtcError(
      ErrorCode.RecordedValueTooLarge,
      `${what} is ${bytes} bytes as JSON, over the store's limit of ${maxBytes}`,
      { what, bytes, limit: maxBytes },
    );
  }
}

/** A new call's canonical input and its hash. */
export function callFingerprint(call: NewCall, maxBytes: number): { inputJson: string; argsSha256: string } {
  const inputJson = recordable(`the input of tool call ${call.callId}`, call.input, maxBytes);
  return { inputJson, argsSha256: sha256Hex(inputJson) };
}

/**
 * Why a fenced write may not happen, or undefined when it may: the container is unknown (`not_found`), ended
 * (`container_expired`, the hosted API's answer for a container that is gone), or its epoch moved on
 * (`container_lease_lost`: another node claimed it).
 */
export function fencingError(container: Pick<StoredContainer, "status" | "epoch"> | undefined, lease: ContainerLease) {
  if (!container) return new PtcError(ErrorCode.NotFound, `container ${lease.containerId} not found`);
  if (container.status !== "live") {
    return new PtcError(ErrorCode.ContainerExpired, `container ${lease.containerId} has ended`, {
      containerId: lease.containerId,
    });
  }
  if (container.epoch !== lease.epoch) {
    return new PtcError(
      ErrorCode.ContainerLeaseLost,
      `the lease on container ${lease.containerId} moved to epoch ${container.epoch} (this node holds ${lease.epoch})`,
      { containerId: lease.containerId, epoch: container.epoch, heldEpoch: lease.epoch },
    );
  }
  return undefined;
}

export function conflict(message: string, details: Record<string, unknown> = {}): PtcError {
  return new PtcError(ErrorCode.StoreConflict, message, details);
}

/** A repeated `appendCall` is the same call when the tool and the arguments are the same. */
export function checkSameCall(existing: JournalCall, call: NewCall, argsSha256: string): void {
  if (existing.tool === call.tool && existing.argsSha256 === argsSha256 && existing.callId === call.callId) return;
  throw conflict(
    `guest call ${call.guestCallId} of execution ${existing.executionId} is already journaled as another call`,
    {
      executionId: existing.executionId,
      guestCallId: call.guestCallId,
      journaled: { tool: existing.tool, callId: existing.callId, argsSha256: existing.argsSha256 },
    },
  );
}

/** A repeated `recordCallResult` is the same when outcome and value are (canonical JSON compared). */
export function checkSameResult(existing: JournalCall, result: CallResult, valueJson: string): void {
  if (existing.outcome === result.outcome && canonicalJson(existing.value ?? null) === valueJson) return;
  throw conflict(`tool call ${existing.callId} already has another outcome`, {
    executionId: existing.executionId,
    callId: existing.callId,
    outcome: existing.outcome,
  });
}

export function callNotFound(executionId: string, guestCallId: number): PtcError {
  return new PtcError(ErrorCode.NotFound, `execution ${executionId} has no journaled call ${guestCallId}`);
}

export function executionNotFound(executionId: string): PtcError {
  return new PtcError(ErrorCode.NotFound, `execution ${executionId} not found`);
}

/** A kept response's items that have an id (its conversation's, then its output's), each once: what `item_reference` names. */
export function responseItems(response: StoredResponse): Map<string, JsonValue> {
  const value = response.response;
  const output = value !== null && typeof value === "object" && !Array.isArray(value) ? value.output : undefined;
  const items = new Map<string, JsonValue>();
  for (const item of [...response.conversation, ...(Array.isArray(output) ? output : [])]) {
    if (item !== null && typeof item === "object" && !Array.isArray(item) && typeof item.id === "string") {
      if (!items.has(item.id)) items.set(item.id, item);
    }
  }
  return items;
}
