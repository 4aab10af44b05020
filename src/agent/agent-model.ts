import { ErrorCode, PtcError } from "../protocol/errors.js";
import { upstreamFromConfig } from "../upstream/upstream-from-config.js";
import type { AgentModel, AgentUpstream } from "./agent-types.js";

const KEY_VARIABLE = { anthropic: "ANTHROPIC_API_KEY", openai: "OPENAI_API_KEY" } as const;

/** The adapter and model name a run uses; a config becomes an adapter with the official SDK client inside. */
export function resolveAgentModel(model: AgentModel): AgentUpstream {
  if ("upstream" in model) return model;
  // Checked here too so the message names runAgent's option rather than the server's config file.
  const variable = KEY_VARIABLE[model.provider];
  if (!model.apiKey && !process.env[variable]) {
    throw new PtcError(ErrorCode.InvalidRequest, `runAgent: no API key: set model.apiKey or ${variable}`);
  }
  return { upstream: upstreamFromConfig(model), name: model.model };
}
