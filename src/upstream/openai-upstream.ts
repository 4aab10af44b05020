import OpenAI from "openai";
import { fromOpenAIResponse, type OpenAIConversionOptions, toOpenAIRequest } from "./openai-conversion.js";
import { toUpstreamError } from "./upstream-error.js";
import type { UpstreamCallOptions, UpstreamModel, UpstreamRequest, UpstreamResponse } from "./upstream-model.js";

export interface OpenAIUpstreamOptions extends OpenAIConversionOptions {
  /** Default: the SDK's own (`OPENAI_API_KEY`). */
  apiKey?: string;
  /** Any chat-completions endpoint, e.g. http://localhost:11434/v1; default the SDK's (api.openai.com). */
  baseURL?: string;
  /** Replaces the model every request names. */
  model?: string;
  /** SDK retries of 408/409/429/5xx with backoff; default the SDK's (2). */
  maxRetries?: number;
  /** A ready client; `apiKey`, `baseURL` and `maxRetries` are then ignored. */
  client?: OpenAI;
}

const PROVIDER = "openai";

/** Any OpenAI-compatible chat-completions model, through the official SDK, in Anthropic shapes. */
export function createOpenAIUpstream(options: OpenAIUpstreamOptions = {}): UpstreamModel {
  const clientOptions: ConstructorParameters<typeof OpenAI>[0] = {};
  if (options.apiKey !== undefined) clientOptions.apiKey = options.apiKey;
  if (options.baseURL !== undefined) clientOptions.baseURL = options.baseURL;
  if (options.maxRetries !== undefined) clientOptions.maxRetries = options.maxRetries;
  const client = options.client ?? new OpenAI(clientOptions);
  const conversion: OpenAIConversionOptions = {};
  if (options.maxTokensField !== undefined) conversion.maxTokensField = options.maxTokensField;

  return {
    provider: PROVIDER,
    async createMessage(request: UpstreamRequest, callOptions: UpstreamCallOptions = {}): Promise<UpstreamResponse> {
      const { signal } = callOptions;
      // Conversion errors (content chat completions can't carry) are the caller's request: thrown as they are.
      const params = toOpenAIRequest(request, conversion);
      if (options.model !== undefined) params.model = options.model;
      let completion: OpenAI.Chat.ChatCompletion;
      try {
        completion = await client.chat.completions.create(params, signal === undefined ? undefined : { signal });
      } catch (error) {
        throw toUpstreamError(PROVIDER, error, OpenAI, signal);
      }
      return fromOpenAIResponse(completion, PROVIDER);
    },
  };
}
