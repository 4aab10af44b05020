import type Anthropic from "@anthropic-ai/sdk";
import type { Engine } from "../engine/engine.js";
import type { ExecutionResult, ResultMode, ScriptLanguage } from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ToolDefinition } from "../protocol/tool.js";
import type { ToolSource } from "../sources/tool-source.js";
import type { UpstreamModel, UpstreamRequest, UpstreamResponse } from "../upstream/upstream-model.js";

/** Model turns a run may take before it stops with `max_turns`. */
export const DEFAULT_MAX_TURNS = 20;
/** `max_tokens` of each model request. */
export const DEFAULT_MAX_TOKENS = 4_096;

/**
 * `programmatic`: tools allowed from code are reached through `code_execution`, direct tools are offered as
 * ordinary tools. `traditional`: every tool is offered directly and there is no `code_execution` (for comparison).
 */
export type AgentMode = "programmatic" | "traditional";

/** An upstream adapter plus the model name sent in each request. */
export interface AgentUpstream {
  upstream: UpstreamModel;
  name: string;
}

/**
 * What `upstreamFromConfig` builds an adapter from. The key defaults to `ANTHROPIC_API_KEY` / `OPENAI_API_KEY`;
 * `baseURL` to the provider's (any chat-completions endpoint for `openai`).
 */
export interface AgentUpstreamConfig {
  provider: "anthropic" | "openai";
  model: string;
  apiKey?: string;
  baseURL?: string;
}

/** An adapter with a model name, or the config of one. */
export type AgentModel = AgentUpstream | AgentUpstreamConfig;

/** A tool definition (runs in-process) or a source whose tools are listed when the run starts. */
export type AgentTool = ToolDefinition | ToolSource;

export interface RunAgentOptions {
  model: AgentModel;
  tools?: readonly AgentTool[];
  /** The user's message, or a whole conversation to continue (its last message must be the user's). */
  prompt: string | readonly Anthropic.MessageParam[];
  system?: string;
  /** Model requests at most; default DEFAULT_MAX_TURNS. */
  maxTurns?: number;
  /** `max_tokens` per model request; default DEFAULT_MAX_TOKENS. */
  maxTokens?: number;
  mode?: AgentMode;
  /** Runs the scripts; its base tools are added to `tools`. Default: an engine of the run's own, closed at the end. */
  engine?: Engine;
  /** Limits of each code execution; `toolTimeoutMs` also bounds direct tool calls. */
  limits?: Partial<ExecutionLimits>;
  /** How tool results reach scripts (default `json`). */
  resultMode?: ResultMode;
  /**
   * The language the model writes `code_execution` scripts in (default `python`): the tool's description
   * says which and carries the tools' Python stubs or, for JavaScript and TypeScript, their TypeScript declarations.
   */
  language?: ScriptLanguage;
  signal?: AbortSignal;
  /** Observes the run; an exception thrown here is ignored. */
  onEvent?: (event: AgentEvent) => void;
}

export type AgentStopReason = UpstreamResponse["stop_reason"] | "max_turns";

export interface AgentTurn {
  /** Input tokens the upstream reported for this request (uncached plus cache writes and reads). */
  inputTokens: number;
  outputTokens: number;
  stopReason: UpstreamResponse["stop_reason"];
  /** tool_use blocks of this turn that ran a direct tool (not `code_execution`, not refused). */
  toolCalls: number;
  /**
   * tool_use blocks of this turn refused without running anything: a code-only tool called directly, or a
   * name the run does not offer. The model got an `is_error` tool_result saying why.
   */
  refusedToolCalls: number;
  /** `code_execution` tool_use blocks of this turn. */
  codeExecutions: number;
  /** Tool calls the scripts of this turn made from inside the sandbox. */
  scriptToolCalls: number;
}

export interface AgentUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface AgentRunResult {
  /** The text of the last model reply. */
  answer: string;
  stopReason: AgentStopReason;
  /** The whole conversation in Anthropic Messages shape, ending with the last model reply. */
  transcript: Anthropic.MessageParam[];
  turns: AgentTurn[];
  usage: AgentUsage;
  /** UTF-8 bytes of every tool_result sent back to the model (direct results and script output). */
  toolResultBytesInContext: number;
  /** Bytes of tool results scripts consumed in the sandbox, which never reached the model. */
  toolResultBytesKeptOutOfContext: number;
  /** o200k_base tokens of those results (`contextSavings.toolResultTokens`, summed). */
  tokensKeptOutOfContext: number;
  executions: ExecutionResult[];
  /** Tool sources that could not list their tools; the run went on without them. */
  toolSourceFailures: { source: string; message: string }[];
}

export type AgentEvent =
  | { type: "model-request"; turn: number; request: UpstreamRequest }
  | { type: "model-response"; turn: number; response: UpstreamResponse }
  | { type: "tool-call"; turn: number; id: string; name: string; input: unknown }
  | { type: "tool-result"; turn: number; id: string; name: string; content: string; isError: boolean }
  | { type: "execution"; turn: number; id: string; result: ExecutionResult }
  | { type: "tool-source-failed"; source: string; message: string };
