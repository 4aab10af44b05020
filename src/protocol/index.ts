export { ErrorCode, type LimitCode, PtcError } from "./errors.js";
export type {
  ContextSavings,
  ExecutionError,
  ExecutionEvent,
  ExecutionResult,
  ExecutionTimings,
  IsolationReport,
  JournalEntry,
  ResultMode,
  ScriptLanguage,
  ToolCallRecord,
  ToolCallRequest,
  ToolFailure,
  ToolOutcome,
} from "./execution.js";
export { SCRIPT_LANGUAGES } from "./execution.js";
export type { JsonSchema, JsonValue } from "./json-schema.js";
export {
  DEFAULT_ACTIVE_TIMEOUT_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_CONCURRENT_TOOL_CALLS,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MAX_TOOL_CALLS,
  DEFAULT_MAX_TOOL_INPUT_BYTES,
  DEFAULT_MAX_TOOL_RESULT_BYTES,
  DEFAULT_MAX_TOTAL_TOOL_INPUT_BYTES,
  DEFAULT_MAX_TOTAL_TOOL_RESULT_BYTES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_PENDING_TOOL_TIMEOUT_MS,
  DEFAULT_TOOL_TIMEOUT_MS,
  DEFAULT_WALL_TIMEOUT_MS,
  type ExecutionLimits,
  resolveLimits,
} from "./limits.js";
export {
  defineTool,
  type InferToolInput,
  type InferToolOutput,
  type JsonSchemaToolDefinition,
  type StandardSchema,
  type ToolCallContext,
  type ToolCaller,
  type ToolCallerSpelling,
  type ToolDefinition,
  type ToolHandler,
  type ToolSchema,
  type TypedToolDefinition,
} from "./tool.js";
