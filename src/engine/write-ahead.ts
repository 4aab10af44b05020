import type { ToolOutcome } from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";

/** A tool call as it is made durable: before its handler runs or it is reported pending. */
export interface WriteAheadCall {
  /** The guest's own id for the call: with the execution, the idempotency key. */
  readonly guestCallId: number;
  readonly callId: string;
  readonly tool: string;
  readonly input: JsonValue;
}

/** A call's outcome as it is made durable: before the sandbox sees it. */
export interface WriteAheadResult {
  readonly guestCallId: number;
  readonly callId: string;
  readonly outcome: ToolOutcome;
}

/**
 * Where one execution's tool calls and their outcomes become durable before they take effect
 * (`ExecuteRequest.writeAhead`; the server's store implements it). The broker writes in one FIFO: a call
 * is dispatched, or reported pending, once its write resolved; an outcome reaches the sandbox once its
 * write resolved, so the order outcomes are recorded in is the order the guest saw them in. A write that
 * rejects stops the execution with the error's code (`store_unavailable`, `container_lease_lost`): it fails
 * closed, and nothing after it takes effect.
 */
export interface WriteAhead {
  call(call: WriteAheadCall): Promise<unknown>;
  result(result: WriteAheadResult): Promise<unknown>;
}
