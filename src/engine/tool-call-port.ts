// What the tool-call broker talks to: a port for each call's outcome (the sandbox, or a fake in tests)
// and one event sink (its execution). The broker holds no reference to either beyond these.
import type { LimitCode } from "../protocol/errors.js";
import type { ExecutionEvent, ToolCallRecord, ToolCallRequest } from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ToolHandler } from "../protocol/tool.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { Journal } from "./journal.js";
import type { LazyAbort } from "./lazy-abort.js";
import type { WriteAhead } from "./write-ahead.js";

/**
 * The sandbox side of the bridge, as the broker sees it: where each call's outcome goes. The guest names
 * its calls by `guestCallId` (the bridge's call id); `payloadJson` is encoded once, here, and passed on
 * as is (bridge.ts, `encodeResultFrame`).
 */
export interface ToolCallPort {
  reply(guestCallId: number, ok: boolean, payloadJson: string): void;
}

/**
 * What the broker tells its execution. `tool-call` and `tool-result` are the execution's own events;
 * `outstanding` says the number of unanswered calls changed (read `broker.outstanding`), for the clock
 * that excludes tool waits; `limit` names a limit a call ran into.
 */
export type ToolCallEvent =
  | Extract<ExecutionEvent, { type: "tool-call" | "tool-result" }>
  | { type: "outstanding" }
  | { type: "limit"; code: LimitCode };

export interface ToolCallBrokerContext {
  executionId: string;
  /** Set when nobody answers pending calls: a call to a tool without a handler fails at once, naming this. */
  runnerWithoutCaller?: string;
  containerId: string;
  registry: ToolRegistry;
  limits: ExecutionLimits;
  journal: Journal;
  /**
   * Ids for the first calls that reach the broker, in order: a replayed execution makes its calls that were
   * pending at the pause again, and they keep their ids (a client's `tool_result` names them).
   */
  resumedCallIds?: string[];
  /** Makes calls and outcomes durable before they take effect (write-ahead.ts). */
  writeAhead?: WriteAhead;
  /** A write-ahead write failed: the execution stops with its error (nothing after it takes effect). */
  onWriteFailed?(error: unknown): void;
  /** Mints call ids (default `callIdFactory()`); `/v1/messages` uses its `toolu_…` ids, which the client sees. */
  newCallId?: () => string;
  port: ToolCallPort;
  emit(event: ToolCallEvent): void;
}

/** A call the broker holds until it settles: what it was asked, who answers it, and its record. */
export interface LiveCall {
  request: ToolCallRequest;
  guestCallId: number;
  handler: ToolHandler | undefined;
  /**
   * The handler's signal, made when the handler first reads `context.signal` (most never do); aborted when
   * the call times out or is withdrawn, and born aborted if read afterwards.
   */
  readonly abort: LazyAbort;
  startedAt: number;
  /** A handler call that has started (not waiting for a concurrency slot). */
  started: boolean;
  /** Its write-ahead resolved: it may be dispatched, or reported pending. */
  durable: boolean;
  record: ToolCallRecord;
}
