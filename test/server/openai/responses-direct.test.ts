import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type OpenAI from "openai-v7";
import { testEngine } from "../../helpers/engine.js";
import {
  eventShape,
  INVENTORY_TOOLS,
  type ResponsesEndpoint,
  startResponsesEndpoint,
} from "../../helpers/responses-endpoint.js";
import {
  conversationOf,
  type ScriptedModelServer,
  startScriptedModelServer,
} from "../../helpers/scripted-model-server.js";

const MODEL = "gpt-5.6-sol";
const WEATHER: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "Current weather of a city.",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

const engine = testEngine({ pool: { size: 1 } });
let model: ScriptedModelServer;
const endpoints: Record<"anthropic" | "openai", ResponsesEndpoint> = {} as never;
before(async () => {
  model = await startScriptedModelServer();
  endpoints.anthropic = await startResponsesEndpoint(engine, model, "anthropic");
  endpoints.openai = await startResponsesEndpoint(engine, model, "openai");
});
after(async () => {
  await endpoints.anthropic.close();
  await endpoints.openai.close();
  await model.close();
  await engine.close();
});

for (const format of ["anthropic", "openai"] as const) {
  describe(`/v1/responses without programs (${format} upstream)`, () => {
    test("a text answer: one final_answer message, usage summed from the upstream", async () => {
      model.setScript([{ text: "Paris is sunny." }]);
      const response = await endpoints[format].client().responses.create({
        model: MODEL,
        instructions: "Be brief.",
        input: "Weather in Paris?",
        metadata: { run: "1" },
      });
      assert.equal(response.object, "response");
      assert.match(response.id, /^resp_[0-9a-f]{48}$/);
      assert.equal(response.status, "completed");
      assert.equal(response.output_text, "Paris is sunny.");
      assert.equal((response as { store?: unknown }).store, true);
      assert.deepEqual(response.metadata, { run: "1" });
      assert.equal(response.instructions, "Be brief.");
      const message = response.output[0];
      assert.ok(message?.type === "message");
      assert.equal(message.phase, "final_answer");
      assert.match(message.id, /^msg_/);
      const upstream = model.requests.at(-1);
      assert.ok(upstream && response.usage);
      assert.equal(response.usage.input_tokens, upstream.inputTokens);
      assert.equal(response.usage.output_tokens, upstream.outputTokens);
      assert.equal(response.usage.total_tokens, upstream.inputTokens + upstream.outputTokens);
    });

    test("a direct function call, answered with store: false, then with previous_response_id", async () => {
      const client = endpoints[format].client();
      model.setScript([{ text: "Checking.", toolCalls: [{ name: "get_weather", input: { city: "Paris" } }] }]);
      const first = await client.responses.create({ model: MODEL, input: "Weather in Paris?", tools: [WEATHER] });
      assert.deepEqual(
        first.output.map((item) => item.type),
        ["message", "function_call"],
      );
      const [commentary, call] = first.output;
      assert.ok(commentary?.type === "message" && call?.type === "function_call");
      assert.equal(commentary.phase, "commentary");
      assert.equal(call.name, "get_weather");
      assert.equal(call.arguments, '{"city":"Paris"}');
      assert.equal(call.status, "completed");
      assert.equal(call.caller ?? undefined, undefined);
      assert.match(call.call_id, /^call_[A-Za-z0-9]{24}$/);

      model.setScript([{ text: "It is 21 degrees." }]);
      const output = { type: "function_call_output" as const, call_id: call.call_id, output: "21C" };
      const second = await client.responses.create({
        model: MODEL,
        store: false,
        tools: [WEATHER],
        input: [
          { role: "user", content: "Weather in Paris?" },
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          output,
        ],
      });
      assert.equal(second.output_text, "It is 21 degrees.");
      const seen = conversationOf(model.requests.at(-1) as never);
      assert.deepEqual(
        seen.results.map((result) => [result.id, result.content]),
        [[call.call_id, "21C"]],
      );

      model.setScript([{ text: "Still 21." }]);
      const third = await client.responses.create({
        model: MODEL,
        previous_response_id: first.id,
        tools: [WEATHER],
        input: [output],
      });
      assert.equal(third.previous_response_id, first.id);
      assert.equal(third.output_text, "Still 21.");
      assert.deepEqual(
        conversationOf(model.requests.at(-1) as never).calls.map((seenCall) => seenCall.id),
        [call.call_id],
      );
    });
  });
}

describe("/v1/responses direct calls of programmatic-only tools", () => {
  test("are refused upstream with an error result, never reaching the client", async () => {
    model.setScript([
      { toolCalls: [{ name: "getInventory", input: { sku: "sku_123" } }] },
      { text: "I need to write a program for that." },
    ]);
    const response = await endpoints.anthropic.client().responses.create({
      model: MODEL,
      input: "Stock of sku_123?",
      tools: INVENTORY_TOOLS,
    });
    assert.deepEqual(
      response.output.map((item) => item.type),
      ["message"],
    );
    const second = model.requests.at(-1);
    assert.ok(second);
    const result = conversationOf(second).results[0];
    assert.ok(result);
    assert.equal(result.isError, true);
    assert.match(
      result.content,
      /getInventory can only be called from a program: call it as `await tools\.getInventory/,
    );
    // The upstream sees the program tool with the TypeScript declarations, and no getInventory tool of its own.
    const upstreamTools = second.body.tools as Array<{ name: string; description?: string }>;
    assert.deepEqual(
      upstreamTools.map((tool) => tool.name),
      ["programmatic_tool_calling"],
    );
    assert.match(upstreamTools[0]?.description ?? "", /getInventory\(args: \{/);
    assert.match(upstreamTools[0]?.description ?? "", /Promise<\{/);
  });
});

describe("/v1/responses streaming", () => {
  test("a text answer streams as OpenAI's recorded events, sequence numbers in order", async () => {
    model.setScript([{ text: "Inventory is sufficient for sku_123: 42 units available versus 31 requested." }]);
    const stream = endpoints.anthropic.client().responses.stream({ model: MODEL, input: "Enough stock?" });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();
    assert.equal(final.output_text, "Inventory is sufficient for sku_123: 42 units available versus 31 requested.");
    assert.deepEqual(eventShape(events), [
      "response.created",
      "response.in_progress",
      "response.output_item.added:message",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done:message",
      "response.completed",
    ]);
    assert.deepEqual(
      events.map((event) => event.sequence_number),
      events.map((_, index) => index),
    );
  });

  test("an upstream failure after the stream started ends it with response.failed", async () => {
    model.setScript([{ error: { status: 400, type: "invalid_request_error", message: "prompt is too long" } }]);
    const stream = endpoints.anthropic.client().responses.stream({ model: MODEL, input: "x" });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    // The SDK hands `response.failed` over as an event; the stream itself ends normally.
    for await (const event of stream) events.push(event);
    const failed = events.at(-1);
    assert.ok(failed?.type === "response.failed", JSON.stringify(events.map((event) => event.type)));
    assert.equal(failed.response.status, "failed");
    assert.match(failed.response.error?.message ?? "", /prompt is too long/);
  });
});
