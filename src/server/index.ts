// `ptc/server`: the pieces of `ptc serve` for embedding in your own process or Hono app.
export {
  type AdmissionController,
  type AdmissionRelease,
  createAdmissionController,
  DEFAULT_MAX_QUEUED_EXECUTIONS,
  DEFAULT_MAX_RUNNING_EXECUTIONS,
  DEFAULT_RETRY_AFTER_SECONDS,
} from "./admission.js";
export {
  createMessagesHandler,
  type MessagesCall,
  type MessagesHandler,
  type MessagesHandlerOptions,
} from "./anthropic/messages-handler.js";
export {
  DEFAULT_EVICT_IDLE_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DurableNode,
  type DurableNodeOptions,
} from "./durable/durable-node.js";
export { createServerApp, type ServerApp, type ServerAppOptions } from "./http/create-server-app.js";
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  type RunningServer,
  type StartServerOptions,
  startServer,
} from "./http/start-server.js";
export { loadProgramSecret, ProgramSigner } from "./openai/program-fingerprint.js";
export {
  createResponsesHandler,
  type ResponsesCall,
  type ResponsesHandler,
  type ResponsesHandlerOptions,
} from "./openai/responses-handler.js";
export type { StoredResponseCall } from "./openai/stored-response-routes.js";
export {
  DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY,
  DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY,
  type StoredResponseLimits,
} from "./openai/stored-responses.js";
export { ownerOf, ResourceOwners } from "./resource-owners.js";
export { openStore } from "./store/open-store.js";
export {
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_STORED_RESPONSE_BYTES_PER_KEY,
  DEFAULT_MAX_STORED_RESPONSES_PER_KEY,
  DEFAULT_STORED_RESPONSE_RETENTION_MS,
  DEFAULT_STORED_RESPONSE_SWEEP_BATCH,
  type Store,
  type StoreOptions,
} from "./store/store.js";
