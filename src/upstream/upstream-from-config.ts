import type { UpstreamConfig } from "../config/ptc-config.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { createAnthropicUpstream } from "./anthropic-upstream.js";
import { createOpenAIUpstream } from "./openai-upstream.js";
import type { UpstreamModel } from "./upstream-model.js";

const KEY_VARIABLE = { anthropic: "ANTHROPIC_API_KEY", openai: "OPENAI_API_KEY" } as const;

/**
 * The upstream model `server.upstream` names. The key comes from the config or the provider's usual
 * variable; without either, this fails now rather than on the first request. A local
 * chat-completions server that needs no key still wants some value (any string) for the SDK.
 */
export function upstreamFromConfig(
  config: UpstreamConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): UpstreamModel {
  const variable = KEY_VARIABLE[config.provider];
  const apiKey = config.apiKey ?? env[variable];
  if (apiKey === undefined || apiKey === "")
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `server.upstream (provider "${config.provider}") has no API key: set server.upstream.apiKey in ptc.config.json or the ${variable} environment variable`,
    );
  const options: { apiKey: string; baseURL?: string; model?: string } = { apiKey };
  if (config.baseURL !== undefined) options.baseURL = config.baseURL;
  if (config.model !== undefined) options.model = config.model;
  return config.provider === "anthropic" ? createAnthropicUpstream(options) : createOpenAIUpstream(options);
}
