import type Anthropic from "@anthropic-ai/sdk";
import { anthropicStyleId } from "../../engine/random-id.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { ExecutionResult } from "../../protocol/execution.js";
import type { UpstreamUsage } from "../../upstream/upstream-model.js";

export const newMessageId = () => anthropicStyleId("msg");
export const newServerToolUseId = () => anthropicStyleId("srvtoolu");
export const newToolUseId = () => anthropicStyleId("toolu");

/**
 * ptc's extension of `usage`; Anthropic's SDK passes unknown fields through. `upstream_turns`: calls to the
 * upstream model this request made; `code_executions`: scripts that finished in this request;
 * `tool_result_tokens_kept_out_of_context`: o200k tokens of tool results those scripts consumed that
 * never entered the model's context; `refused_tool_calls`: direct calls of the upstream to a code-only or
 * unknown tool, answered upstream with an error instead of reaching the client.
 */
export interface PtcUsage {
  upstream_turns: number;
  code_executions: number;
  tool_result_tokens_kept_out_of_context: number;
  refused_tool_calls: number;
}

export type UsageWithPtc = Anthropic.Usage & { ptc: PtcUsage };

/** Usage summed over one request's internal turns. */
export class UsageTotals {
  inputTokens = 0;
  outputTokens = 0;
  cacheCreationInputTokens = 0;
  cacheReadInputTokens = 0;
  readonly ptc: PtcUsage = {
    upstream_turns: 0,
    code_executions: 0,
    tool_result_tokens_kept_out_of_context: 0,
    refused_tool_calls: 0,
  };

  addUpstream(usage: UpstreamUsage): void {
    this.inputTokens += usage.input_tokens;
    this.outputTokens += usage.output_tokens;
    this.cacheCreationInputTokens += usage.cache_creation_input_tokens ?? 0;
    this.cacheReadInputTokens += usage.cache_read_input_tokens ?? 0;
    this.ptc.upstream_turns++;
  }

  addExecution(result: ExecutionResult): void {
    this.ptc.code_executions++;
    this.ptc.tool_result_tokens_kept_out_of_context += result.contextSavings.toolResultTokens;
  }

  addRefused(calls: number): void {
    this.ptc.refused_tool_calls += calls;
  }

  toUsage(): UsageWithPtc {
    return {
      input_tokens: this.inputTokens,
      cache_creation_input_tokens: this.cacheCreationInputTokens,
      cache_read_input_tokens: this.cacheReadInputTokens,
      cache_creation: { ephemeral_5m_input_tokens: this.cacheCreationInputTokens, ephemeral_1h_input_tokens: 0 },
      output_tokens: this.outputTokens,
      output_tokens_details: null,
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      service_tier: "standard",
      inference_geo: null,
      speed: null,
      ptc: { ...this.ptc },
    };
  }

  /** `message_delta` usage: cumulative totals, as the SDK overwrites its snapshot with them. */
  toDeltaUsage(): Anthropic.MessageDeltaUsage & { ptc: PtcUsage } {
    return {
      input_tokens: this.inputTokens,
      cache_creation_input_tokens: this.cacheCreationInputTokens,
      cache_read_input_tokens: this.cacheReadInputTokens,
      output_tokens: this.outputTokens,
      output_tokens_details: null,
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      ptc: { ...this.ptc },
    };
  }
}

export function textBlock(text: string): Anthropic.TextBlock {
  return { type: "text", text, citations: null };
}

const TIME_LIMIT_CODES = new Set<string>([ErrorCode.WallTimeout, ErrorCode.ActiveTimeout]);
const UNAVAILABLE_CODES = new Set<string>([
  ErrorCode.SandboxUnavailable,
  ErrorCode.SandboxCrashed,
  ErrorCode.Cancelled,
]);

/**
 * A finished script as Anthropic reports it: its output (a Python error's traceback appended to stderr,
 * as a hosted container prints it), or an error code when the script was stopped rather than failed.
 */
export function codeExecutionResultBlock(
  serverToolUseId: string,
  result: ExecutionResult,
): Anthropic.CodeExecutionToolResultBlock {
  const code = result.error?.code;
  let content: Anthropic.CodeExecutionToolResultBlockContent;
  if (code !== undefined && TIME_LIMIT_CODES.has(code)) {
    content = { type: "code_execution_tool_result_error", error_code: "execution_time_exceeded" };
  } else if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    content = { type: "code_execution_tool_result_error", error_code: "unavailable" };
  } else {
    let stderr = result.stderr;
    if (result.error) {
      const detail = result.error.traceback ?? `${result.error.type}: ${result.error.message}\n`;
      stderr += `${stderr === "" || stderr.endsWith("\n") ? "" : "\n"}${detail}`;
    }
    content = {
      type: "code_execution_result",
      stdout: result.stdout,
      stderr,
      return_code: result.returnCode,
      content: [],
    };
  }
  return { type: "code_execution_tool_result", tool_use_id: serverToolUseId, content };
}

/** The block for a `code_execution` call the upstream made with an unusable input (no `code` string). */
export function invalidCodeInputBlock(serverToolUseId: string): Anthropic.CodeExecutionToolResultBlock {
  return {
    type: "code_execution_tool_result",
    tool_use_id: serverToolUseId,
    content: { type: "code_execution_tool_result_error", error_code: "invalid_tool_input" },
  };
}

export interface MessageParts {
  id: string;
  model: string;
  content: Anthropic.ContentBlock[];
  stopReason: Anthropic.StopReason | null;
  stopSequence: string | null;
  usage: UsageWithPtc;
  container: Anthropic.Container | null;
}

export function buildMessage(parts: MessageParts): Anthropic.Message & { usage: UsageWithPtc } {
  return {
    id: parts.id,
    type: "message",
    role: "assistant",
    model: parts.model,
    content: parts.content,
    container: parts.container,
    stop_reason: parts.stopReason,
    stop_sequence: parts.stopSequence,
    stop_details: null,
    diagnostics: null,
    usage: parts.usage,
  };
}
