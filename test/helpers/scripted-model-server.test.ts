import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { referenceTokenizer } from "./reference-tokenizer.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

const weatherSchema = {
  type: "object" as const,
  properties: { city: { type: "string" } },
  required: ["city"],
};
const SYSTEM = "You are terse.";
const QUESTION = "What is the weather in Paris?";
const turnWithCall = {
  text: "Let me check the weather for you in Paris today.",
  toolCalls: [{ name: "get_weather", input: { city: "Paris", days: [1, 2, 3], note: "a longer input to split" } }],
};

/** What js-tiktoken's own tokenizer says (the server counts with the engine's counter). */
async function tokens(...texts: string[]): Promise<number> {
  const tokenizer = await referenceTokenizer();
  return texts.reduce((sum, text) => sum + tokenizer.encode(text).length, 0);
}

const expectedInput = () => tokens(SYSTEM, "get_weather", "Weather by city", JSON.stringify(weatherSchema), QUESTION);
const expectedOutput = () =>
  tokens(turnWithCall.text, "get_weather", JSON.stringify(turnWithCall.toolCalls[0]?.input ?? {}));

describe("scripted model server", () => {
  let server: ScriptedModelServer;
  let anthropic: Anthropic;
  let openai: OpenAI;

  before(async () => {
    server = await startScriptedModelServer();
    anthropic = new Anthropic({ apiKey: "test-key", baseURL: server.url, maxRetries: 0 });
    openai = new OpenAI({ apiKey: "test-key", baseURL: server.openaiBaseURL, maxRetries: 0 });
  });
  after(() => server.close());

  const anthropicParams = {
    model: "claude-test",
    max_tokens: 256,
    system: SYSTEM,
    tools: [{ name: "get_weather", description: "Weather by city", input_schema: weatherSchema }],
    messages: [{ role: "user" as const, content: QUESTION }],
  };
  const openaiParams = {
    model: "gpt-test",
    messages: [
      { role: "system" as const, content: SYSTEM },
      { role: "user" as const, content: QUESTION },
    ],
    tools: [
      {
        type: "function" as const,
        function: { name: "get_weather", description: "Weather by city", parameters: weatherSchema },
      },
    ],
  };

  test("Anthropic, non-streaming: text and tool_use with real token counts", async () => {
    server.setScript([turnWithCall]);
    const before = server.requests.length;
    const message = await anthropic.messages.create(anthropicParams);
    assert.match(message.id, /^msg_/);
    assert.equal(message.model, "claude-test");
    assert.equal(message.stop_reason, "tool_use");
    assert.equal(message.content.length, 2);
    const [text, toolUse] = message.content;
    assert.equal(text?.type === "text" && text.text, turnWithCall.text);
    assert.ok(toolUse?.type === "tool_use");
    assert.match(toolUse.id, /^toolu_/);
    assert.equal(toolUse.name, "get_weather");
    assert.deepEqual(toolUse.input, turnWithCall.toolCalls[0]?.input);
    const recorded = server.requests[before];
    assert.ok(recorded);
    assert.equal(recorded.format, "anthropic");
    assert.equal(recorded.path, "/v1/messages");
    assert.equal(recorded.stream, false);
    // SDK 1.x sends the key as a bearer token; older ones used x-api-key.
    assert.ok(recorded.headers["x-api-key"] === "test-key" || recorded.headers.authorization === "Bearer test-key");
    assert.equal(recorded.inputTokens, await expectedInput());
    assert.equal(recorded.outputTokens, await expectedOutput());
    assert.equal(message.usage.input_tokens, recorded.inputTokens);
    assert.equal(message.usage.output_tokens, recorded.outputTokens);
  });

  test("Anthropic, streaming: event order and finalMessage() reassembly", async () => {
    server.setScript([turnWithCall, turnWithCall]);
    const events: string[] = [];
    const raw = await anthropic.messages.create({ ...anthropicParams, stream: true });
    for await (const event of raw) events.push(event.type);
    assert.equal(events[0], "message_start");
    assert.deepEqual(events.slice(-2), ["message_delta", "message_stop"]);
    assert.ok(events.filter((type) => type === "content_block_delta").length > 3, "split into several deltas");
    assert.equal(events.filter((type) => type === "content_block_start").length, 2);

    const message = await anthropic.messages.stream(anthropicParams).finalMessage();
    assert.match(message.id, /^msg_/);
    assert.equal(message.stop_reason, "tool_use");
    const [text, toolUse] = message.content;
    assert.equal(text?.type === "text" && text.text, turnWithCall.text);
    assert.ok(toolUse?.type === "tool_use");
    assert.match(toolUse.id, /^toolu_/);
    assert.deepEqual(toolUse.input, turnWithCall.toolCalls[0]?.input);
    assert.equal(message.usage.input_tokens, await expectedInput());
    assert.equal(message.usage.output_tokens, await expectedOutput());
    assert.equal(server.requests.at(-1)?.stream, true);
  });

  test("OpenAI, non-streaming: tool_calls, finish_reason and usage", async () => {
    server.setScript([turnWithCall, { text: "cut off", stopReason: "max_tokens" }]);
    const completion = await openai.chat.completions.create(openaiParams);
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.object, "chat.completion");
    const choice = completion.choices[0];
    assert.equal(choice?.finish_reason, "tool_calls");
    assert.equal(choice.message.content, turnWithCall.text);
    const call = choice.message.tool_calls?.[0];
    assert.ok(call?.type === "function");
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), turnWithCall.toolCalls[0]?.input);
    // The same conversation counts the same in both formats.
    assert.equal(completion.usage?.prompt_tokens, await expectedInput());
    assert.equal(completion.usage?.completion_tokens, await expectedOutput());
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer test-key");

    const truncated = await openai.chat.completions.create(openaiParams);
    assert.equal(truncated.choices[0]?.finish_reason, "length");
    assert.equal(truncated.choices[0]?.message.tool_calls, undefined);
  });

  test("OpenAI, streaming: chunks reassemble, usage only with include_usage, [DONE] ends", async () => {
    server.setScript([turnWithCall, turnWithCall, { text: "plain answer" }]);
    const stream = await openai.chat.completions.create({
      ...openaiParams,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let args = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      assert.equal(chunk.object, "chat.completion.chunk");
      usage ??= chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? "";
      for (const call of choice.delta.tool_calls ?? []) args += call.function?.arguments ?? "";
      finish = choice.finish_reason ?? finish;
    }
    assert.equal(content, turnWithCall.text);
    assert.deepEqual(JSON.parse(args), turnWithCall.toolCalls[0]?.input);
    assert.equal(finish, "tool_calls");
    assert.equal(usage?.prompt_tokens, await expectedInput());

    const final = await openai.chat.completions
      .stream({ ...openaiParams, stream_options: { include_usage: true } })
      .finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    assert.ok(call?.type === "function");
    assert.match(call.id, /^call_/);
    assert.deepEqual(JSON.parse(call.function.arguments), turnWithCall.toolCalls[0]?.input);
    assert.equal(final.choices[0]?.finish_reason, "tool_calls");
    assert.equal(final.usage?.completion_tokens, await expectedOutput());

    let sawUsage = false;
    let text = "";
    for await (const chunk of await openai.chat.completions.create({ ...openaiParams, stream: true })) {
      if (chunk.usage) sawUsage = true;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    assert.equal(text, "plain answer");
    assert.equal(sawUsage, false);
  });

  test("a function script sees the request and its index; explicit ids are kept", async () => {
    const seen: number[] = [];
    server.setScript((request, index) => {
      seen.push(index);
      const last = (request.body.messages as { content: string }[]).at(-1);
      return { toolCalls: [{ name: "echo", id: `toolu_fixed${index}`, input: { said: last?.content } }] };
    });
    const first = await anthropic.messages.create({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
    });
    const block = first.content[0];
    assert.ok(block?.type === "tool_use");
    assert.equal(block.id, "toolu_fixed0");
    assert.deepEqual(block.input, { said: "hi" });
    await anthropic.messages.create({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "again" }] });
    assert.deepEqual(seen, [0, 1]);
  });

  test("an exhausted script fails at once with a clear 500, without SDK retries", async () => {
    server.setScript([]);
    const retrying = new Anthropic({ apiKey: "k", baseURL: server.url, maxRetries: 2 });
    const before = server.requests.length;
    await assert.rejects(
      retrying.messages.create({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
      (error: unknown) =>
        error instanceof Anthropic.APIError && error.status === 500 && /script exhausted/.test(error.message),
    );
    assert.equal(server.requests.length, before + 1);
    await assert.rejects(
      new OpenAI({ apiKey: "k", baseURL: server.openaiBaseURL }).chat.completions.create(openaiParams),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 500,
    );
  });

  test("scripted error turns use each format's error shape", async () => {
    server.setScript([
      { error: { status: 529, type: "overloaded_error", message: "Overloaded" } },
      { error: { status: 429, type: "rate_limit_error", message: "slow down" } },
    ]);
    await assert.rejects(
      anthropic.messages.create({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
      (error: unknown) => {
        assert.ok(error instanceof Anthropic.APIError);
        assert.equal(error.status, 529);
        assert.deepEqual((error.error as { error: unknown }).error, {
          type: "overloaded_error",
          message: "Overloaded",
        });
        return true;
      },
    );
    await assert.rejects(openai.chat.completions.create(openaiParams), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.type, "rate_limit_error");
      assert.match(error.message, /slow down/);
      return true;
    });
  });
});
