import { ErrorCode } from "../../protocol/errors.js";

/**
 * The HTTP status ptc's own API (the executions API, and the server's answers before a request reaches an
 * endpoint) gives each code. A `Record` over every `ErrorCode`, so a new code does not compile until it has
 * a status. Engine and tool codes are the caller's request failing (400), unless it says otherwise.
 *
 * Other wire flavours map codes themselves, since their clients expect the statuses of the API they mimic:
 * Anthropic's in `../anthropic/anthropic-errors.ts` (e.g. its 529 for an overloaded server, where this table
 * says 429). An OpenAI-compatible endpoint would add its own mapping beside it, in `../openai/`.
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.WallTimeout]: 400,
  [ErrorCode.ActiveTimeout]: 400,
  [ErrorCode.ToolTimeout]: 400,
  [ErrorCode.ToolCallLimit]: 400,
  [ErrorCode.ToolConcurrencyLimit]: 400,
  [ErrorCode.OutputLimit]: 400,
  [ErrorCode.MemoryLimit]: 400,
  [ErrorCode.ToolResultTooLarge]: 400,
  [ErrorCode.ToolResultTotalLimit]: 400,
  [ErrorCode.ToolInputTotalLimit]: 400,
  [ErrorCode.ToolNotFound]: 400,
  [ErrorCode.ToolNotAllowed]: 400,
  [ErrorCode.InvalidToolInput]: 400,
  [ErrorCode.ToolInputTooLarge]: 400,
  [ErrorCode.ToolError]: 400,
  [ErrorCode.PythonError]: 400,
  [ErrorCode.JavaScriptError]: 400,
  [ErrorCode.SandboxCrashed]: 400,
  [ErrorCode.SandboxUnavailable]: 400,
  // Off every request's path (the pool recycles sandboxes after their execution): never a client's fault.
  [ErrorCode.SandboxResetFailed]: 500,
  [ErrorCode.IsolationDegraded]: 400,
  [ErrorCode.Cancelled]: 400,
  [ErrorCode.UnknownToolCall]: 400,
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.TypeScriptUnavailable]: 400,
  [ErrorCode.ExecutionDepthLimit]: 400,
  [ErrorCode.AuthenticationFailed]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.ExecutionFinished]: 409,
  // Gone, not missing: the id was real, its Python state is lost.
  [ErrorCode.ContainerExpired]: 410,
  [ErrorCode.StoreConflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RecordedValueTooLarge]: 413,
  [ErrorCode.ResponseStoreQuotaExceeded]: 413,
  // The container's state could not be rebuilt: it is gone, as an expired one is.
  [ErrorCode.ReplayDiverged]: 410,
  [ErrorCode.ReplayTooLarge]: 413,
  [ErrorCode.ProgramFingerprintInvalid]: 400,
  // Only ever a tool's outcome inside a script; as a request's error it is the server's failure.
  [ErrorCode.ToolCallInterrupted]: 500,
  [ErrorCode.NodeUnreachable]: 503,
  // Refusals for capacity: 429 with `Retry-After`, so clients back off and come back.
  [ErrorCode.Overloaded]: 429,
  [ErrorCode.KeyQueueQuotaExceeded]: 429,
  [ErrorCode.KeyContainerQuotaExceeded]: 429,
  [ErrorCode.ContainerCapReached]: 429,
  [ErrorCode.ContainerQueueFull]: 429,
  [ErrorCode.InternalError]: 500,
  [ErrorCode.UpstreamFailed]: 502,
  [ErrorCode.EngineClosed]: 503,
  [ErrorCode.ShuttingDown]: 503,
  [ErrorCode.UpstreamUnavailable]: 503,
  // Fail closed while nothing can be made durable; the lease case: another node owns the container now,
  // and a retry reaches it.
  [ErrorCode.StoreUnavailable]: 503,
  [ErrorCode.ContainerLeaseLost]: 503,
};

export function errorStatus(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
