export {
  type AgentEvent,
  type AgentMode,
  type AgentModel,
  type AgentRunResult,
  type AgentTool,
  type AgentTurn,
  DEFAULT_MAX_TURNS,
  type RunAgentOptions,
  runAgent,
} from "./agent/index.js";
export {
  CONFIG_FILE_NAME,
  type HttpToolServerConfig,
  type LoadedConfig,
  loadConfig,
  type McpServerConfig,
  type PtcConfig,
  parseConfig,
  type UpstreamConfig,
} from "./config/index.js";
export {
  createEngine,
  DEFAULT_CONTAINER_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_EXECUTION_DEPTH,
  type Engine,
  type EngineOptions,
  type ExecuteRequest,
  type ExecutionHandle,
  type JournalStore,
  REDACTED,
  redactSecrets,
  type ToolResultSubmission,
} from "./engine/index.js";
export * from "./protocol/index.js";
export type {
  InferToolInput,
  InferToolOutput,
  JsonSchemaToolDefinition,
  StandardSchema,
  ToolSchema,
  TypedToolDefinition,
} from "./protocol/tool.js";
export { createSalesDatabase, createSampleTools } from "./sample/public.js";
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from "./sandbox/sandbox-pool.js";
export { resolveSandboxRuntime, type SandboxRuntime } from "./sandbox/sandbox-runtime.js";
export {
  HandlerToolSource,
  HttpToolSource,
  McpToolSource,
  openToolSources,
  parseMcpFlag,
  type SourceToolDefinition,
  type ToolSet,
  type ToolSource,
  type ToolSourceFailure,
  toolSourcesFromConfig,
} from "./sources/index.js";
export {
  generatePythonStubs,
  isStandardSchema,
  normalizeCallers,
  type RegisteredTool,
  resolveToolDefinition,
  ToolRegistry,
  toolSchemaToJsonSchema,
  toPythonName,
} from "./tools/index.js";
export {
  createAnthropicUpstream,
  createOpenAIUpstream,
  UpstreamError,
  type UpstreamModel,
  type UpstreamRequest,
  type UpstreamResponse,
  upstreamFromConfig,
} from "./upstream/index.js";
