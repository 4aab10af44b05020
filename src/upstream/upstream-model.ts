import type Anthropic from "@anthropic-ai/sdk";

/**
 * The model ptc calls. Requests and replies use the Anthropic Messages shapes restricted to plain
 * tools (text, tool_use, tool_result blocks): `code_execution` is an ordinary tool to the upstream,
 * whose description carries the Python stubs. Adapters translate for other wire formats (OpenAI chat
 * completions) and never see server tools.
 */
export interface UpstreamRequest {
  model: string;
  max_tokens: number;
  system?: string | Anthropic.TextBlockParam[];
  messages: Anthropic.MessageParam[];
  tools?: Anthropic.Tool[];
  tool_choice?: Anthropic.ToolChoice;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
}

export interface UpstreamUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export type UpstreamContentBlock = Anthropic.TextBlockParam | Anthropic.ToolUseBlockParam;

export interface UpstreamResponse {
  id: string;
  model: string;
  /** Only text and tool_use blocks; tool_use `id`s are the upstream's own. */
  content: UpstreamContentBlock[];
  stop_reason: "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal" | "pause_turn";
  stop_sequence: string | null;
  usage: UpstreamUsage;
}

export interface UpstreamCallOptions {
  signal?: AbortSignal;
}

export interface UpstreamModel {
  /** `anthropic`, `openai`, ...: for logs and usage reports. */
  readonly provider: string;
  createMessage(request: UpstreamRequest, options?: UpstreamCallOptions): Promise<UpstreamResponse>;
}
