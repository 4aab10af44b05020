export { type AnthropicUpstreamOptions, createAnthropicUpstream } from "./anthropic-upstream.js";
export {
  fromOpenAIResponse,
  type OpenAIConversionOptions,
  parseToolArguments,
  RAW_ARGUMENTS_KEY,
  TOOL_ERROR_PREFIX,
  toOpenAIRequest,
} from "./openai-conversion.js";
export { createOpenAIUpstream, type OpenAIUpstreamOptions } from "./openai-upstream.js";
export { UpstreamError, type UpstreamErrorKind } from "./upstream-error.js";
export { upstreamFromConfig } from "./upstream-from-config.js";
export type {
  UpstreamCallOptions,
  UpstreamContentBlock,
  UpstreamModel,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamUsage,
} from "./upstream-model.js";
