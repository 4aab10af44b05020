import assert from "node:assert/strict";
import { after } from "node:test";
import type { Engine } from "../../src/engine/engine.js";
import { createServerApp, type ServerApp } from "../../src/server/http/create-server-app.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { codeTool, testEngine } from "./engine.js";

/** Shared by the test/server-executions-*.test.ts files: two client keys, wire shapes, request helpers. */
export const KEY_A = "key-a-0123456789";
export const KEY_B = "key-b-9876543210";

export interface WireState {
  id: string;
  status: string;
  container_id: string;
  pending_tool_calls: Array<{ id: string; name: string; input: Record<string, unknown>; caller: { type: string } }>;
  result: null | {
    status: string;
    stdout: string;
    error: null | { code: string; type: string; message: string };
    tool_calls: Array<{ name: string; ok: boolean; resolved_by: string }>;
  };
  submitted?: Array<{ call_id: string; status: string }>;
}

export interface WireError {
  type: "error";
  error: { type: string; code: string; message: string };
}

export async function call(
  target: ServerApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { "x-api-key": KEY_A },
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await target.app.request(path, init);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers };
}

/** `POST /v1/executions`, asserting 200. */
export async function execute(target: ServerApp, body: Record<string, unknown>, key = KEY_A): Promise<WireState> {
  const { status, json } = await call(target, "POST", "/v1/executions", body, { "x-api-key": key });
  assert.equal(status, 200, JSON.stringify(json));
  return json as WireState;
}

export const clientTool = (name: string) => ({
  name,
  description: `client tool ${name}`,
  input_schema: { type: "object", properties: { q: { type: "string" } } },
});

/** The app every server-executions test file uses: a real engine with one server tool, `double`, and keys A and B. */
export function testServer(): { server: ServerApp; engine: Engine } {
  const serverTools = [codeTool("double", async (input) => ({ doubled: Number(input.n) * 2 }))];
  const engine = testEngine({ tools: serverTools });
  const server = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A, KEY_B], serverTools });
  after(async () => {
    await server.shutdown(0);
    await engine.close();
  });
  return { server, engine };
}
