// The agent loop as `ptc` exports it; the code-execution tool's wire shapes stay private.
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
} from "./agent-types.js";
export { runAgent } from "./run-agent.js";
