// The engine as `ptc` exports it; the rest of src/engine/ is private. The container types are what
// `engine.containers` and `engine.inspectContainer` hand out.
export type { SandboxPoolOptions, SandboxPoolStats } from "../sandbox/sandbox-pool-options.js";
export {
  type ContainerEndedListener,
  type ContainerInfo,
  type ContainerManager,
  type ContainerTurn,
  DEFAULT_CONTAINER_IDLE_TIMEOUT_MS,
} from "./container-manager.js";
export type { ContainerEndReason, ContainerRecord } from "./container-registry.js";
export { createEngine, type Engine, type EngineOptions, type ExecuteRequest } from "./engine.js";
export type { ExecutionHandle } from "./execution.js";
export { DEFAULT_MAX_EXECUTION_DEPTH } from "./execution-depth.js";
export type { JournalStore } from "./journal.js";
export {
  argsSha256,
  type ContainerHistory,
  type JournaledCall,
  journaledCalls,
  type ReplayRequest,
  type RestoreReport,
} from "./replay.js";
export type { ToolResultSubmission } from "./tool-call-broker.js";
export type { WriteAhead, WriteAheadCall, WriteAheadResult } from "./write-ahead.js";
