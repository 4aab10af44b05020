/** Stable codes for every way an execution or a tool call can fail. Never renamed once published. */
export const ErrorCode = {
  /** Limits: each limit has its own code. */
  WallTimeout: "wall_timeout",
  ActiveTimeout: "active_timeout",
  ToolTimeout: "tool_timeout",
  ToolCallLimit: "tool_call_limit",
  ToolConcurrencyLimit: "tool_concurrency_limit",
  OutputLimit: "output_limit",
  MemoryLimit: "memory_limit",
  /** One tool result larger than `maxToolResultBytes`: that call fails, the script goes on. */
  ToolResultTooLarge: "tool_result_too_large",
  /** The execution's tool results together passed `maxTotalToolResultBytes`: later calls fail. */
  ToolResultTotalLimit: "tool_result_total_limit",
  /** The execution's tool inputs together passed `maxTotalToolInputBytes`: later calls are refused. */
  ToolInputTotalLimit: "tool_input_total_limit",
  /** Tool boundary. */
  ToolNotFound: "tool_not_found",
  ToolNotAllowed: "tool_not_allowed",
  InvalidToolInput: "invalid_tool_input",
  ToolInputTooLarge: "tool_input_too_large",
  ToolError: "tool_error",
  /** Execution. A Python script's own uncaught exception. */
  PythonError: "python_error",
  /** A JavaScript or TypeScript script's own uncaught exception (`python_error`'s twin: one code per guest language). */
  JavaScriptError: "javascript_error",
  SandboxCrashed: "sandbox_crashed",
  SandboxUnavailable: "sandbox_unavailable",
  /** A sandbox failed to give itself a fresh interpreter (`SandboxProcess.reset`): it was killed. */
  SandboxResetFailed: "sandbox_reset_failed",
  /**
   * The sandbox would run on a Node weaker than the pinned runtime `ptc setup` installs (no network in its
   * permission model, no `asyncio.run`) where setup could provide it; refused unless the caller opts in.
   */
  IsolationDegraded: "isolation_degraded",
  Cancelled: "cancelled",
  UnknownToolCall: "unknown_tool_call",
  InvalidRequest: "invalid_request",
  /** A TypeScript script, and the sandbox's Node cannot strip types (Node < 22.13: `ptc setup` installs one that can). */
  TypeScriptUnavailable: "typescript_unavailable",
  EngineClosed: "engine_closed",
  /** A tool handler started an execution nested deeper than the engine's `maxExecutionDepth`. */
  ExecutionDepthLimit: "execution_depth_limit",
  /** Server: what ptc's HTTP endpoints answer with, besides the codes above. */
  AuthenticationFailed: "authentication_failed",
  NotFound: "not_found",
  ContainerExpired: "container_expired",
  ExecutionFinished: "execution_finished",
  /** The server's admission queue is full. */
  Overloaded: "overloaded",
  /** This key already has its share of the admission queue waiting. */
  KeyQueueQuotaExceeded: "key_queue_quota_exceeded",
  /** This key holds its share of live containers and none of them is idle. */
  KeyContainerQuotaExceeded: "key_container_quota_exceeded",
  /** The server holds its cap of live containers and none of this key's is idle. */
  ContainerCapReached: "container_cap_reached",
  /** Too many executions already wait for their turn in this (busy) container. */
  ContainerQueueFull: "container_queue_full",
  PayloadTooLarge: "payload_too_large",
  ShuttingDown: "shutting_down",
  /** No upstream model is configured for `/v1/messages`. */
  UpstreamUnavailable: "upstream_unavailable",
  /** A call to the upstream model failed (`UpstreamError` says how, and what the upstream said). */
  UpstreamFailed: "upstream_failed",
  /**
   * Durable store (`src/server/store/`): the database is down, unreachable or refused the connection.
   * Nothing was made durable, so nothing is answered as if it were (fail closed).
   */
  StoreUnavailable: "store_unavailable",
  /** This node's lease on the container moved on (its epoch, the fencing token, changed): it may not write. */
  ContainerLeaseLost: "container_lease_lost",
  /** A write contradicts what the store already holds for it (another result for the same call or execution). */
  StoreConflict: "store_conflict",
  /** A value to record (code, tool input or result, output) is larger than `maxRecordedValueBytes`. */
  RecordedValueTooLarge: "recorded_value_too_large",
  /**
   * `/v1/responses` with `store: true`: the response alone is larger than its API key's stored-response bytes
   * (`maxStoredResponseBytesPerKey`), so keeping it would leave room for nothing else. Older ones are pruned
   * silently; only this is refused.
   */
  ResponseStoreQuotaExceeded: "response_store_quota_exceeded",
  /** Rebuilding a container by replay: the script made another call, other arguments, or ended early. */
  ReplayDiverged: "replay_diverged",
  /**
   * `/v1/responses`: a `program` item sent back does not carry the signed fingerprint ptc gave it (its code,
   * call id or the request's programmatic tools changed): ptc runs only code the model wrote, as it wrote it.
   */
  ProgramFingerprintInvalid: "program_fingerprint_invalid",
  /** A replay's journal is larger than the run frame may carry (`MAX_REPLAY_FRAME_CHARS`). */
  ReplayTooLarge: "replay_too_large",
  /**
   * A tool call's handler was dispatched (the call is in the journal) but its server stopped before the
   * outcome was recorded. Handlers run at most once: the resumed script gets this as a `ToolError` instead.
   */
  ToolCallInterrupted: "tool_call_interrupted",
  /** The node holding the container did not answer a forwarded request (it may be dying: retry). */
  NodeUnreachable: "node_unreachable",
  InternalError: "internal_error",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type LimitCode =
  | typeof ErrorCode.WallTimeout
  | typeof ErrorCode.ActiveTimeout
  | typeof ErrorCode.ToolTimeout
  | typeof ErrorCode.ToolCallLimit
  | typeof ErrorCode.ToolConcurrencyLimit
  | typeof ErrorCode.OutputLimit
  | typeof ErrorCode.MemoryLimit
  | typeof ErrorCode.ToolResultTooLarge
  | typeof ErrorCode.ToolResultTotalLimit
  | typeof ErrorCode.ToolInputTotalLimit;

/**
 * Marks every `PtcError`, so `PtcError.isInstance` recognises one made by another copy of this module (two
 * installed versions of ptc, or the ESM and CJS builds side by side) where `instanceof` would not.
 */
const MARKER = Symbol.for("ptc.error");

export interface PtcErrorOptions {
  /** How long a refused caller should wait before trying again (sent as `Retry-After` by the server). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * The one error ptc throws and answers with: `code` is stable (clients branch on it); `details` is
 * structured and safe to log. How it reaches a client (HTTP status, body shape) is the server's business.
 */
export class PtcError extends Error {
  override readonly name: string = "PtcError";
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  /** Set on refusals for capacity: retrying sooner would be refused again. */
  readonly retryAfterSeconds: number | undefined;
  /** The marker `isInstance` checks (a registered symbol: the same in every copy of this module). */
  readonly [MARKER] = true as const;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options: PtcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** True for any `PtcError` (subclasses included), from this copy of ptc or another. */
  static isInstance(value: unknown): value is PtcError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** `isInstance`, and with `code` given, only for that code. */
  static is(value: unknown, code?: ErrorCode): value is PtcError {
    return PtcError.isInstance(value) && (code === undefined || value.code === code);
  }
}
