import type { ServerApp } from "../../src/server/http/create-server-app.js";
import { createAnthropicUpstream, createOpenAIUpstream, type UpstreamModel } from "../../src/upstream/index.js";
import type { ScriptedModelServer } from "./scripted-model-server.js";
import { type LoopbackServer, serveOnLoopback } from "./server.js";

// What the endpoints of the model-facing APIs under test (anthropic-endpoint.ts, responses-endpoint.ts)
// are built from alike: the API keys they accept, an upstream on the scripted model server, and the server
// app on loopback.

export const KEY_A = "sk-ptc-test-key-a";
export const KEY_B = "sk-ptc-test-key-b";
export type UpstreamFormat = "anthropic" | "openai";

/** The scripted model server as the upstream, in `format`'s wire format. */
export function scriptedUpstream(model: ScriptedModelServer, format: UpstreamFormat): UpstreamModel {
  return format === "anthropic"
    ? createAnthropicUpstream({ apiKey: "upstream-key", baseURL: model.url, maxRetries: 0 })
    : createOpenAIUpstream({ apiKey: "upstream-key", baseURL: model.openaiBaseURL, maxRetries: 0 });
}

/** The server app on a loopback port; `close` shuts it down (no grace), then stops listening. */
export async function serveApp(server: ServerApp): Promise<LoopbackServer> {
  const listening = await serveOnLoopback(server.app.fetch);
  return {
    url: listening.url,
    async close() {
      await server.shutdown(0);
      await listening.close();
    },
  };
}
