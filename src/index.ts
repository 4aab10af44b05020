// `ptc`: what an application builds with: the engine, tool definitions, tool sources, the agent loop,
// the model adapters it runs on, config loading and the protocol's types and errors. Everything else is
// by subpath (`ptc/tools`, `ptc/sources`, `ptc/upstream`, `ptc/server`, `ptc/mcp`, `ptc/sample`) or private.
export {
  type AgentEvent,
  type AgentMode,
  type AgentModel,
  type AgentRunResult,
  type AgentStopReason,
  type AgentTool,
  type AgentTurn,
  type AgentUpstream,
  type AgentUpstreamConfig,
  type AgentUsage,
  DEFAULT_MAX_TOKENS,
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
  type ContainerEndedListener,
  type ContainerEndReason,
  type ContainerInfo,
  type ContainerManager,
  type ContainerRecord,
  type ContainerTurn,
  createEngine,
  DEFAULT_CONTAINER_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_EXECUTION_DEPTH,
  type Engine,
  type EngineOptions,
  type ExecuteRequest,
  type ExecutionHandle,
  type JournalStore,
  type SandboxPoolOptions,
  type SandboxPoolStats,
  type ToolResultSubmission,
} from "./engine/index.js";
export * from "./protocol/index.js";
export {
  HandlerToolSource,
  HttpToolSource,
  McpToolSource,
  openToolSources,
  type SourcesFromConfigOptions,
  type SourceToolDefinition,
  type ToolSet,
  type ToolSource,
  type ToolSourceFailure,
  toolSourcesFromConfig,
} from "./sources/index.js";
export {
  createAnthropicUpstream,
  createOpenAIUpstream,
  UpstreamError,
  type UpstreamModel,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./upstream/index.js";
