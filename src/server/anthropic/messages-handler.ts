// PLACEHOLDER: replaced by the Anthropic Messages-compatible endpoint.
import type { Engine } from "../../engine/engine.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { UpstreamModel } from "../../upstream/upstream-model.js";
import type { ResourceOwners } from "../resource-owners.js";

export interface MessagesHandlerOptions {
  engine: Engine;
  /** Tools the server runs itself (config sources); the client's tools with the same name are run here. */
  serverTools: readonly ToolDefinition[];
  upstream: UpstreamModel;
  owners: ResourceOwners;
  /** Default 5 minutes, as Anthropic's containers. */
  containerIdleTimeoutMs?: number;
}

export interface MessagesCall {
  /** The parsed JSON body (untrusted). */
  body: unknown;
  /** `ownerOf(apiKey)` of the authenticated client. */
  owner: string;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
}

/** `POST /v1/messages`: returns a JSON response, an SSE stream (`stream: true`) or an Anthropic-shaped error. */
export type MessagesHandler = (call: MessagesCall) => Promise<Response>;

export function createMessagesHandler(_options: MessagesHandlerOptions): MessagesHandler {
  return async () =>
    Response.json({ type: "error", error: { type: "api_error", message: "not implemented" } }, { status: 501 });
}
