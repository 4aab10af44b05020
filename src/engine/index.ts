export { type ContainerInfo, ContainerManager, DEFAULT_CONTAINER_IDLE_TIMEOUT_MS } from "./container-manager.js";
export { callToolDirectly, type DirectToolCallOptions } from "./direct-tool-call.js";
export { createEngine, type Engine, type EngineOptions, type ExecuteRequest, newExecutionId } from "./engine.js";
export type { ExecutionHandle } from "./execution.js";
export { DEFAULT_MAX_EXECUTION_DEPTH } from "./execution-depth.js";
export { Journal, type JournalStore } from "./journal.js";
export { REDACTED, redactSecrets } from "./redact-secrets.js";
export { countTokens, loadTokenizer, TOKENIZER_NAME } from "./token-counter.js";
export type { ToolResultSubmission } from "./tool-call-broker.js";
