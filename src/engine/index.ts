export {
  type ContainerEndedListener,
  type ContainerInfo,
  ContainerManager,
  type ContainerTurn,
  DEFAULT_CONTAINER_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_WAITING_PER_CONTAINER,
} from "./container-manager.js";
export type { ContainerQuota, OwnedContainer } from "./container-quota.js";
export {
  type ContainerEndReason,
  type ContainerRecord,
  type ContainerRegistry,
  DEFAULT_ENDED_CONTAINER_RETENTION_MS,
  DEFAULT_MAX_ENDED_CONTAINERS,
  InMemoryContainerRegistry,
  newContainerId,
} from "./container-registry.js";
export { callToolDirectly, type DirectToolCallOptions } from "./direct-tool-call.js";
export { createEngine, type Engine, type EngineOptions, type ExecuteRequest, newExecutionId } from "./engine.js";
export type { ExecutionHandle } from "./execution.js";
export { DEFAULT_MAX_EXECUTION_DEPTH } from "./execution-depth.js";
export { Journal, type JournalStore } from "./journal.js";
export { REDACTED, redactSecrets } from "./redact-secrets.js";
export { countTokens, loadTokenizer, TOKENIZER_NAME } from "./token-counter.js";
export type { ToolResultSubmission } from "./tool-call-broker.js";
