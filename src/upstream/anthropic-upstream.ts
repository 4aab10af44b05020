import Anthropic from "@anthropic-ai/sdk";
import { toUpstreamError, UpstreamError } from "./upstream-error.js";
import type {
  UpstreamCallOptions,
  UpstreamContentBlock,
  UpstreamModel,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamUsage,
} from "./upstream-model.js";

export interface AnthropicUpstreamOptions {
  /** Default: the SDK's own (`ANTHROPIC_API_KEY`). */
  apiKey?: string;
  /** Default: the SDK's own (https://api.anthropic.com, or `ANTHROPIC_BASE_URL`). */
  baseURL?: string;
  /** Replaces the model every request names. */
  model?: string;
  /** SDK retries of 408/409/429/5xx with backoff; default the SDK's (2). */
  maxRetries?: number;
  /** A ready client; `apiKey`, `baseURL` and `maxRetries` are then ignored. */
  client?: Anthropic;
}

const PROVIDER = "anthropic";

/** Only text and tool_use reach ptc: the upstream has no server tools, and thinking stays upstream. */
function contentFromMessage(message: Anthropic.Message): UpstreamContentBlock[] {
  const content: UpstreamContentBlock[] = [];
  for (const block of message.content) {
    if (block.type === "text") content.push({ type: "text", text: block.text });
    else if (block.type === "tool_use")
      content.push({ type: "tool_use", id: block.id, name: block.name, input: block.input });
  }
  return content;
}

function stopReason(reason: Anthropic.StopReason | null): UpstreamResponse["stop_reason"] {
  switch (reason) {
    case null:
      return "end_turn";
    // Same outcome for the caller: the reply was cut off by a length limit.
    case "model_context_window_exceeded":
      return "max_tokens";
    default:
      return reason;
  }
}

function usage(usage: Anthropic.Usage): UpstreamUsage {
  const mapped: UpstreamUsage = { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens };
  if (usage.cache_creation_input_tokens != null) mapped.cache_creation_input_tokens = usage.cache_creation_input_tokens;
  if (usage.cache_read_input_tokens != null) mapped.cache_read_input_tokens = usage.cache_read_input_tokens;
  return mapped;
}

/**
 * The SDK's 1.x types no longer list the sampling parameters (recent models reject them); older models
 * still take them, so they are forwarded, only when the client set them.
 */
type CreateParams = Anthropic.MessageCreateParamsNonStreaming & { temperature?: number; top_p?: number };

/** Only the fields an `UpstreamRequest` may carry, so nothing else (e.g. `stream`) slips through. */
function createParams(request: UpstreamRequest, model: string | undefined): CreateParams {
  const params: CreateParams = {
    model: model ?? request.model,
    max_tokens: request.max_tokens,
    messages: request.messages,
  };
  if (request.system !== undefined) params.system = request.system;
  if (request.tools !== undefined) params.tools = request.tools;
  if (request.tool_choice !== undefined) params.tool_choice = request.tool_choice;
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.top_p !== undefined) params.top_p = request.top_p;
  if (request.stop_sequences !== undefined) params.stop_sequences = request.stop_sequences;
  return params;
}

/** An Anthropic Messages API model (without vendor code execution), through the official SDK. */
export function createAnthropicUpstream(options: AnthropicUpstreamOptions = {}): UpstreamModel {
  const clientOptions: ConstructorParameters<typeof Anthropic>[0] = {};
  if (options.apiKey !== undefined) clientOptions.apiKey = options.apiKey;
  if (options.baseURL !== undefined) clientOptions.baseURL = options.baseURL;
  if (options.maxRetries !== undefined) clientOptions.maxRetries = options.maxRetries;
  const client = options.client ?? new Anthropic(clientOptions);

  return {
    provider: PROVIDER,
    async createMessage(request: UpstreamRequest, callOptions: UpstreamCallOptions = {}): Promise<UpstreamResponse> {
      const { signal } = callOptions;
      let message: Anthropic.Message;
      try {
        message = await client.messages.create(
          createParams(request, options.model),
          signal === undefined ? undefined : { signal },
        );
      } catch (error) {
        throw toUpstreamError(PROVIDER, error, Anthropic, signal);
      }
      if (!Array.isArray(message.content))
        throw new UpstreamError(PROVIDER, "invalid_response", "the reply has no content array");
      return {
        id: message.id,
        model: message.model,
        content: contentFromMessage(message),
        stop_reason: stopReason(message.stop_reason),
        stop_sequence: message.stop_sequence,
        usage: usage(message.usage),
      };
    },
  };
}
