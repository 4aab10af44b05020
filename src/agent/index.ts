export type { ToolRunOutcome } from "./agent-tools.js";
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
export {
  CODE_EXECUTION_TOOL_NAME,
  codeExecutionOutput,
  codeExecutionResultText,
  codeExecutionTool,
} from "./code-execution-tool.js";
export { runAgent } from "./run-agent.js";
