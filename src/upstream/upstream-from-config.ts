import OpenAI from "openai";
import type { UpstreamConfig } from "../config/ptc-config.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { createAnthropicUpstream } from "./anthropic-upstream.js";
import { createOpenAIUpstream } from "./openai-upstream.js";
import type { UpstreamModel } from "./upstream-model.js";

const KEY_VARIABLE = { anthropic: "ANTHROPIC_API_KEY", openai: "OPENAI_API_KEY" } as const;

/**
 * The upstream model `server.upstream` names. The key comes from the config or the provider's usual
 * variable. An OpenAI-compatible upstream with a `baseURL` (Ollama, vLLM, LM Studio on localhost) may have
 * none: its requests then carry no Authorization header. Anthropic's API and api.openai.com need one, and
 * without it this fails now rather than on the first request.
 */
export function upstreamFromConfig(
  config: UpstreamConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): UpstreamModel {
  const variable = KEY_VARIABLE[config.provider];
  const apiKey = config.apiKey || env[variable] || undefined;
  const keyless = apiKey === undefined && config.provider === "openai" && config.baseURL !== undefined;
  if (apiKey === undefined && !keyless)
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `server.upstream (provider "${config.provider}") has no API key: set server.upstream.apiKey in ptc.config.json or the ${variable} environment variable` +
        (config.provider === "openai"
          ? " (an OpenAI-compatible server that needs none: set server.upstream.baseURL)"
          : ""),
    );
  const options: { apiKey?: string; baseURL?: string; model?: string } = {};
  if (apiKey !== undefined) options.apiKey = apiKey;
  if (config.baseURL !== undefined) options.baseURL = config.baseURL;
  if (config.model !== undefined) options.model = config.model;
  if (config.provider === "anthropic") return createAnthropicUpstream(options);
  if (!keyless) return createOpenAIUpstream(options);
  // The SDK insists on some key; a null Authorization default header keeps it off the wire.
  const client = new OpenAI({ apiKey: "none", baseURL: config.baseURL, defaultHeaders: { Authorization: null } });
  return createOpenAIUpstream({ ...options, client });
}
