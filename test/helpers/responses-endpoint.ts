import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after } from "node:test";
import OpenAI, { APIError } from "openai-v7";
import type { Engine } from "../../src/engine/engine.js";
import { createServerApp } from "../../src/server/http/create-server-app.js";
import { createResponsesHandler, type ResponsesHandlerOptions } from "../../src/server/openai/responses-handler.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { KEY_A, KEY_B, scriptedUpstream, serveApp, type UpstreamFormat } from "./scripted-endpoint.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

export { KEY_A, KEY_B };

/** The secret every test endpoint signs programs with: two endpoints on it are two nodes of one cluster. */
export const TEST_PROGRAM_SECRET = Buffer.from("ptc-test-program-secret-0123456789abcdef");

export interface ResponsesEndpoint {
  url: string;
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

/** The real server app (auth, body limits, routing) with the responses handler, on loopback. */
export async function startResponsesEndpoint(
  engine: Engine,
  model: ScriptedModelServer,
  format: UpstreamFormat = "anthropic",
  options: Partial<ResponsesHandlerOptions> = {},
): Promise<ResponsesEndpoint> {
  const upstream = scriptedUpstream(model, format);
  const owners = new ResourceOwners();
  const serverTools = options.serverTools ?? [];
  const responses = createResponsesHandler({
    programSecret: TEST_PROGRAM_SECRET,
    keepaliveMs: 200,
    ...options,
    engine,
    upstream,
    serverTools,
  });
  const server = createServerApp({ engine, owners, apiKeys: [KEY_A, KEY_B], responses, serverTools });
  const { url, close } = await serveApp(server);
  return { url, client: (key = KEY_A) => new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }), close };
}

/** A programmatic-only function of the recorded conversation: `{sku}` in, `{sku, <field>: number}` out. */
function skuTool(name: string, description: string, field: string): OpenAI.Responses.FunctionTool {
  const object = (properties: Record<string, unknown>) => ({
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  });
  return {
    type: "function",
    allowed_callers: ["programmatic"],
    description,
    name,
    output_schema: object({ sku: { type: "string" }, [field]: { type: "number" } }),
    parameters: object({ sku: { type: "string" } }),
    strict: true,
  };
}

/** The tools of the recorded conversation: programmatic tool calling and two programmatic-only functions. */
export const INVENTORY_TOOLS: OpenAI.Responses.Tool[] = [
  { type: "programmatic_tool_calling" },
  skuTool("getInventory", "Get available inventory for a SKU.", "availableUnits"),
  skuTool("getDemand", "Get requested units for a SKU.", "requestedUnits"),
];

/**
 * For a whole test file (top-level `await`): a scripted model server and an endpoint on `engine`, closed
 * after the file's tests (the endpoint, the model server, then the engine).
 */
export async function responsesForFile(
  engine: Engine,
  format: UpstreamFormat = "anthropic",
  options: Partial<ResponsesHandlerOptions> = {},
): Promise<{ model: ScriptedModelServer; endpoint: ResponsesEndpoint }> {
  const model = await startScriptedModelServer();
  const endpoint = await startResponsesEndpoint(engine, model, format, options);
  after(async () => {
    await endpoint.close();
    await model.close();
    await engine.close();
  });
  return { model, endpoint };
}

export const FIXTURES = "test/fixtures/openai-recorded";

/** A recorded response (`programmatic-tool-calling.N.json`). */
export async function recordedResponse(n: number): Promise<OpenAI.Responses.Response> {
  return JSON.parse(
    await readFile(`${FIXTURES}/programmatic-tool-calling.${n}.json`, "utf8"),
  ) as OpenAI.Responses.Response;
}

/** A recorded stream (`programmatic-tool-calling.N.chunks.txt`): one event per line. */
export async function recordedEvents(n: number): Promise<OpenAI.Responses.ResponseStreamEvent[]> {
  const text = await readFile(`${FIXTURES}/programmatic-tool-calling.${n}.chunks.txt`, "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as OpenAI.Responses.ResponseStreamEvent);
}

/** What a comparison with a recording looks at: item types in order, statuses and caller links by position. */
export function itemShape(output: readonly OpenAI.Responses.ResponseOutputItem[]): string[] {
  return output
    .filter((item) => item.type !== "reasoning")
    .map((item) => {
      if (item.type === "function_call")
        return `function_call:${item.name}:${item.status}:${item.caller?.type ?? "direct"}`;
      if (item.type === "program_output") return `program_output:${item.status}`;
      if (item.type === "message") return `message:${item.phase ?? ""}`;
      return item.type;
    });
}

/** Event types with reasoning items' events dropped and each run of deltas collapsed to one. */
export function eventShape(events: readonly OpenAI.Responses.ResponseStreamEvent[]): string[] {
  const shape: string[] = [];
  const reasoning = new Set<number>();
  for (const event of events) {
    if ("item" in event && event.item.type === "reasoning") {
      reasoning.add(event.output_index);
      continue;
    }
    const kind =
      "item" in event && (event.type === "response.output_item.added" || event.type === "response.output_item.done")
        ? `${event.type}:${event.item.type}`
        : event.type;
    if (kind.endsWith(".delta") && shape.at(-1) === kind) continue;
    shape.push(kind);
  }
  return shape;
}

/** The program call_id every program-called function call in `output` names. */
export function callerIds(output: readonly OpenAI.Responses.ResponseOutputItem[]): string[] {
  return output.flatMap((item) =>
    item.type === "function_call" && item.caller?.type === "program" ? [item.caller.caller_id] : [],
  );
}

export function assertStatus(error: unknown, status: number): asserts error is APIError {
  assert.ok(error instanceof APIError, String(error));
  assert.equal(error.status, status, JSON.stringify(error.error));
}
