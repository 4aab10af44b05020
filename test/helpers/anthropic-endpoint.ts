import assert from "node:assert/strict";
import { after } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type { Engine } from "../../src/engine/engine.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createMessagesHandler, type MessagesHandlerOptions } from "../../src/server/anthropic/messages-handler.js";
import { createServerApp } from "../../src/server/http/create-server-app.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { KEY_A, KEY_B, scriptedUpstream, serveApp, type UpstreamFormat } from "./scripted-endpoint.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

export { KEY_A, KEY_B, type UpstreamFormat };

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
  const upstream = scriptedUpstream(model, format);
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
  const { url, close } = await serveApp(server);
  return { url, client: (key = KEY_A) => new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 }), close };
}

export interface EndpointSpec {
  format: UpstreamFormat;
  options?: Parameters<typeof startEndpoint>[3];
}

/**
 * For a whole test file (top-level `await`): a scripted model server and one endpoint per named spec on
 * it, all on `engine`. After the file's tests the endpoints close, then the model server, then `engine`.
 */
export async function startEndpointsForFile(
  engine: Engine,
  specs: Record<string, EndpointSpec>,
): Promise<{ model: ScriptedModelServer; endpoint(name: string): Endpoint }> {
  const model = await startScriptedModelServer();
  const endpoints = new Map<string, Endpoint>();
  after(async () => {
    for (const endpoint of endpoints.values()) await endpoint.close();
    await model.close();
    await engine.close();
  });
  for (const [name, spec] of Object.entries(specs)) {
    endpoints.set(name, await startEndpoint(engine, model, spec.format, spec.options));
  }
  return {
    model,
    endpoint(name) {
      const found = endpoints.get(name);
      assert.ok(found, name);
      return found;
    },
  };
}

/** The tools of the weather conversations: code execution, `get_weather` callable only from code, `send_email` direct. */
export const WEATHER_TOOLS: Anthropic.ToolUnion[] = [
  { type: "code_execution_20260120", name: "code_execution" },
  {
    name: "get_weather",
    description: "Current weather of a city.",
    input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    allowed_callers: ["code_execution_20260120"],
  },
  {
    name: "send_email",
    description: "Send an email (the model calls this itself).",
    input_schema: { type: "object", properties: { to: { type: "string" } }, required: ["to"] },
  },
];

/** One `messages.create`, or with `stream` the same request streamed: the final message and every event. */
export async function createMessage(
  client: Anthropic,
  params: Anthropic.MessageCreateParamsNonStreaming,
  stream: boolean,
): Promise<{ message: Anthropic.Message; events: Anthropic.MessageStreamEvent[] }> {
  if (!stream) return { message: await client.messages.create(params), events: [] };
  const events: Anthropic.MessageStreamEvent[] = [];
  const messageStream = client.messages.stream(params);
  for await (const event of messageStream) events.push(event);
  return { message: await messageStream.finalMessage(), events };
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
