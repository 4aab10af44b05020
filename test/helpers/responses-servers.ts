import assert from "node:assert/strict";
import { after } from "node:test";
import type OpenAI from "openai-v7";
import type { Engine } from "../../src/engine/engine.js";
import type { ResponsesHandlerOptions } from "../../src/server/openai/responses-handler.js";
import { assertStatus, type ResponsesEndpoint, startResponsesEndpoint } from "./responses-endpoint.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

/** The model every `/v1/responses` test names (the scripted model server answers any). */
export const MODEL = "gpt-5.6-sol";
export type Item = OpenAI.Responses.ResponseInputItem;

export interface ResponsesServers {
  model: ScriptedModelServer;
  /** An endpoint on `engine` (several may share one: one node; each its own: a restart, or another node). */
  start(engine: Engine, options?: Partial<ResponsesHandlerOptions>): Promise<ResponsesEndpoint>;
}

/**
 * For a whole test file (top-level `await`): a scripted model server, and the endpoints its tests start;
 * after the file's tests, the endpoints, then their engines, then the model server are closed.
 */
export async function responsesServers(): Promise<ResponsesServers> {
  const model = await startScriptedModelServer();
  const endpoints: ResponsesEndpoint[] = [];
  const engines = new Set<Engine>();
  after(async () => {
    for (const endpoint of endpoints) await endpoint.close();
    for (const engine of engines) await engine.close();
    await model.close();
  });
  return {
    model,
    async start(engine, options = {}) {
      engines.add(engine);
      const endpoint = await startResponsesEndpoint(engine, model, "anthropic", options);
      endpoints.push(endpoint);
      return endpoint;
    },
  };
}

/** The SDK's error for `work`, which must fail with `status` and OpenAI's `code`; returns its message. */
export async function refusal(work: Promise<unknown>, status: number, code?: string): Promise<string> {
  let message = "";
  await assert.rejects(work, (error) => {
    assertStatus(error, status);
    const body = error.error as { message?: string; code?: string | null; type?: string };
    assert.equal(body.type, "invalid_request_error");
    if (code !== undefined) assert.equal(body.code, code);
    message = body.message ?? "";
    return true;
  });
  return message;
}
