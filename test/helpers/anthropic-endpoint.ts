import Anthropic from "@anthropic-ai/sdk";
import type { Engine } from "../../src/engine/engine.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createMessagesHandler, type MessagesHandlerOptions } from "../../src/server/anthropic/messages-handler.js";
import { createServerApp } from "../../src/server/http/create-server-app.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { createAnthropicUpstream, createOpenAIUpstream } from "../../src/upstream/index.js";
import type { ScriptedModelServer } from "./scripted-model-server.js";
import { serveOnLoopback } from "./server.js";

export const KEY_A = "sk-ptc-test-key-a";
export const KEY_B = "sk-ptc-test-key-b";
export type UpstreamFormat = "anthropic" | "openai";

export interface Endpoint {
  url: string;
  client(key?: string): Anthropic;
  close(): Promise<void>;
}

/** The real server app (auth, body limits, routing) with the messages handler, on loopback. */
export async function startEndpoint(
  engine: Engine,
  model: ScriptedModelServer,
  format: UpstreamFormat,
  options: Partial<MessagesHandlerOptions> & { serverTools?: readonly ToolDefinition[] } = {},
): Promise<Endpoint> {
  const upstream =
    format === "anthropic"
      ? createAnthropicUpstream({ apiKey: "upstream-key", baseURL: model.url, maxRetries: 0 })
      : createOpenAIUpstream({ apiKey: "upstream-key", baseURL: model.openaiBaseURL, maxRetries: 0 });
  const owners = new ResourceOwners();
  const serverTools = options.serverTools ?? [];
  const messages = createMessagesHandler({ pingIntervalMs: 200, ...options, engine, upstream, owners, serverTools });
  const server = createServerApp({
    engine,
    owners,
    apiKeys: [KEY_A, KEY_B],
    messages,
    serverTools,
    ...(options.admission ? { admission: options.admission } : {}),
  });
  const listening = await serveOnLoopback(server.app.fetch);
  const { url } = listening;
  return {
    url,
    client: (key = KEY_A) => new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 }),
    async close() {
      await server.shutdown(0);
      await listening.close();
    },
  };
}

/** POSTs a raw body (for bodies the SDK's types would not let through). */
export async function postRaw(
  url: string,
  body: string,
  key = KEY_A,
): Promise<{ status: number; json: { type?: string; error?: { type: string; message: string } } }> {
  const response = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
    body,
  });
  return {
    status: response.status,
    json: (await response.json()) as { type?: string; error?: { type: string; message: string } },
  };
}

/** Every key the recorded (fixture) value has, ours has too, with a value of the same JSON type. */
export function assertKeysCovered(recorded: unknown, ours: unknown, path = "$"): void {
  if (recorded === null || ours === null || typeof recorded !== "object") {
    if (recorded !== null && ours !== null && typeof recorded !== typeof ours) {
      throw new Error(`${path}: recorded ${typeof recorded}, ours ${typeof ours}`);
    }
    return;
  }
  if (typeof ours !== "object") throw new Error(`${path}: recorded an object, ours ${typeof ours}`);
  if (Array.isArray(recorded)) {
    if (!Array.isArray(ours)) throw new Error(`${path}: recorded an array, ours not`);
    if (recorded.length === ours.length) {
      recorded.forEach((item, i) => {
        assertKeysCovered(item, ours[i], `${path}[${i}]`);
      });
    }
    return;
  }
  const mine = ours as Record<string, unknown>;
  for (const [key, value] of Object.entries(recorded)) {
    if (!(key in mine)) throw new Error(`${path}.${key}: missing (ours has ${Object.keys(mine).join(", ")})`);
    assertKeysCovered(value, mine[key], `${path}.${key}`);
  }
}

/** Event types with pings dropped and each run of deltas collapsed to one, for comparing orders. */
export function eventShape(events: ReadonlyArray<{ type: string }>): string[] {
  const shape: string[] = [];
  for (const event of events) {
    if (event.type === "ping") continue;
    if (event.type === "content_block_delta" && shape.at(-1) === "content_block_delta") continue;
    shape.push(event.type);
  }
  return shape;
}
