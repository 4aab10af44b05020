import { upstreamFromConfig } from "../upstream/upstream-from-config.js";
import type { AgentModel, AgentUpstream } from "./agent-types.js";

/** The adapter and model name a run uses; a config becomes an adapter with the official SDK client inside. */
export function resolveAgentModel(model: AgentModel): AgentUpstream {
  if ("upstream" in model) return model;
  return { upstream: upstreamFromConfig(model), name: model.model };
}
