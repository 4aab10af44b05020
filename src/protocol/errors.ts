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
  /** Execution. */
  PythonError: "python_error",
  SandboxCrashed: "sandbox_crashed",
  SandboxUnavailable: "sandbox_unavailable",
  /**
   * The sandbox would run on a Node weaker than the pinned runtime `ptc setup` installs (no network in its
   * permission model, no `asyncio.run`) where setup could provide it; refused unless the caller opts in.
   */
  IsolationDegraded: "isolation_degraded",
  Cancelled: "cancelled",
  UnknownToolCall: "unknown_tool_call",
  InvalidRequest: "invalid_request",
  EngineClosed: "engine_closed",
  /** A tool handler started an execution nested deeper than the engine's `maxExecutionDepth`. */
  ExecutionDepthLimit: "execution_depth_limit",
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

/** A local error thrown by ptc's API. `code` is stable; `details` is structured and safe to log. */
export class PtcError extends Error {
  override readonly name = "PtcError";
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }

  static is(value: unknown, code?: ErrorCode): value is PtcError {
    return value instanceof PtcError && (code === undefined || value.code === code);
  }
}
