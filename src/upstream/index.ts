// `ptc/upstream`: the model adapters `runAgent` and `ptc serve` run on; wire conversion stays private.
export { type AnthropicUpstreamOptions, createAnthropicUpstream } from "./anthropic-upstream.js";
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
