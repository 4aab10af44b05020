import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import {
  createAnthropicUpstream,
  createOpenAIUpstream,
  UpstreamError,
  type UpstreamRequest,
  upstreamFromConfig,
} from "../../src/upstream/index.js";
import { TOOL_ERROR_PREFIX } from "../../src/upstream/openai-conversion.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../helpers/scripted-model-server.js";

const codeTool: Anthropic.Tool = {
  name: "code_execution",
  description: "Run Python.",
  input_schema: { type: "object", properties: { code: { type: "string" } }, required: ["code"] },
};

/** A conversation one code execution deep: the second upstream call of a ptc turn. */
function history(toolUseId: string): UpstreamRequest {
  return {
    model: "client-model",
    max_tokens: 512,
    system: [
      { type: "text", text: "You are a data analyst." },
      { type: "text", text: "Be brief." },
    ],
    tools: [codeTool],
    messages: [
      { role: "user", content: "Total sales?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Computing." },
          { type: "tool_use", id: toolUseId, name: "code_execution", input: { code: "print(1+2)" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: toolUseId,
            content: [{ type: "text", text: "return_code: 0\nstdout:\n3\n" }],
          },
        ],
      },
    ],
  };
}

const maxRetries = 0;

describe("upstream adapters", () => {
  let server: ScriptedModelServer;
  before(async () => {
    server = await startScriptedModelServer();
  });
  after(() => server.close());

  test("Anthropic: tool_use round trip with history, model override and usage", async () => {
    const upstream = createAnthropicUpstream({
      apiKey: "k",
      baseURL: server.url,
      model: "claude-upstream",
      maxRetries,
    });
    assert.equal(upstream.provider, "anthropic");
    server.setScript([
      { text: "Let me run it.", toolCalls: [{ name: "code_execution", input: { code: "print(1+2)" } }] },
      { text: "Total: 3." },
    ]);
    const first = await upstream.createMessage({
      model: "client-model",
      max_tokens: 512,
      tools: [codeTool],
      temperature: 0.2,
      messages: [{ role: "user", content: "Total sales?" }],
    });
    assert.equal(first.stop_reason, "tool_use");
    assert.match(first.id, /^msg_/);
    assert.equal(first.model, "claude-upstream");
    const call = first.content[1];
    assert.ok(call?.type === "tool_use");
    assert.match(call.id, /^toolu_/);
    assert.deepEqual(call.input, { code: "print(1+2)" });
    assert.deepEqual(first.content[0], { type: "text", text: "Let me run it." });
    const sent = server.requests.at(-1);
    assert.equal(sent?.body.model, "claude-upstream");
    assert.equal(sent?.body.temperature, 0.2);
    assert.equal(sent?.body.stream, undefined);
    assert.equal(first.usage.input_tokens, sent?.inputTokens);
    assert.equal(first.usage.output_tokens, sent?.outputTokens);
    assert.equal(first.usage.cache_read_input_tokens, 0);

    const request = history(call.id);
    const second = await upstream.createMessage(request);
    assert.equal(second.stop_reason, "end_turn");
    assert.deepEqual(second.content, [{ type: "text", text: "Total: 3." }]);
    const body = server.requests.at(-1)?.body;
    // Passed on as it is: the Anthropic upstream speaks the same shapes.
    assert.deepEqual(body?.messages, request.messages);
    assert.deepEqual(body?.system, request.system);
    assert.deepEqual(body?.tools, request.tools);
  });

  test("OpenAI: request conversion, tool call round trip and usage", async () => {
    const upstream = createOpenAIUpstream({ apiKey: "k", baseURL: server.openaiBaseURL, maxRetries });
    assert.equal(upstream.provider, "openai");
    server.setScript([
      { toolCalls: [{ name: "code_execution", input: { code: "print(sum([1, 2]))" } }] },
      { text: "3." },
    ]);
    const first = await upstream.createMessage({
      model: "gpt-test",
      max_tokens: 100,
      system: "Be brief.",
      tools: [codeTool],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      stop_sequences: ["END"],
      temperature: 0.5,
      top_p: 0.9,
      messages: [{ role: "user", content: [{ type: "text", text: "Sum?" }] }],
    });
    const sent = server.requests.at(-1);
    assert.equal(sent?.format, "openai");
    assert.deepEqual(sent?.body, {
      model: "gpt-test",
      max_tokens: 100,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Sum?" },
      ],
      tools: [
        {
          type: "function",
          function: { name: "code_execution", description: "Run Python.", parameters: codeTool.input_schema },
        },
      ],
      tool_choice: "required",
      parallel_tool_calls: false,
      stop: ["END"],
      temperature: 0.5,
      top_p: 0.9,
    });
    assert.match(first.id, /^chatcmpl-/);
    assert.equal(first.stop_reason, "tool_use");
    assert.equal(first.content.length, 1);
    const call = first.content[0];
    assert.ok(call?.type === "tool_use");
    assert.match(call.id, /^call_/);
    assert.deepEqual(call.input, { code: "print(sum([1, 2]))" });
    assert.deepEqual(first.usage, { input_tokens: sent?.inputTokens, output_tokens: sent?.outputTokens });

    const request = history(call.id);
    const last = request.messages[2];
    assert.ok(last?.role === "user" && typeof last.content !== "string");
    last.content = [
      ...last.content,
      { type: "tool_result", tool_use_id: "call_other", content: "boom", is_error: true },
      { type: "text", text: "And now?" },
    ];
    const second = await upstream.createMessage(request);
    assert.deepEqual(second.content, [{ type: "text", text: "3." }]);
    assert.equal(second.stop_reason, "end_turn");
    assert.deepEqual(server.requests.at(-1)?.body.messages, [
      { role: "system", content: "You are a data analyst.\n\nBe brief." },
      { role: "user", content: "Total sales?" },
      {
        role: "assistant",
        content: "Computing.",
        tool_calls: [
          { id: call.id, type: "function", function: { name: "code_execution", arguments: '{"code":"print(1+2)"}' } },
        ],
      },
      { role: "tool", tool_call_id: call.id, content: "return_code: 0\nstdout:\n3\n" },
      { role: "tool", tool_call_id: "call_other", content: `${TOOL_ERROR_PREFIX}boom` },
      { role: "user", content: "And now?" },
    ]);
  });

  test("OpenAI: max_tokens maps to length, model override and max_completion_tokens option", async () => {
    const upstream = createOpenAIUpstream({
      apiKey: "k",
      baseURL: server.openaiBaseURL,
      model: "gpt-upstream",
      maxTokensField: "max_completion_tokens",
      maxRetries,
    });
    server.setScript([{ text: "cut", stopReason: "max_tokens" }]);
    const reply = await upstream.createMessage({
      model: "x",
      max_tokens: 3,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(reply.stop_reason, "max_tokens");
    assert.equal(reply.model, "gpt-upstream");
    const body = server.requests.at(-1)?.body;
    assert.equal(body?.model, "gpt-upstream");
    assert.equal(body?.max_completion_tokens, 3);
    assert.equal(body?.max_tokens, undefined);
  });

  test("HTTP errors carry the upstream status, type and message", async () => {
    server.setScript([
      { error: { status: 529, type: "overloaded_error", message: "Overloaded" } },
      { error: { status: 500, type: "server_error", message: "The server had an error" } },
      { error: { status: 429, type: "rate_limit_exceeded", message: "Too many requests" } },
    ]);
    const request: UpstreamRequest = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    const anthropic = createAnthropicUpstream({ apiKey: "k", baseURL: server.url, maxRetries });
    const openai = createOpenAIUpstream({ apiKey: "k", baseURL: server.openaiBaseURL, maxRetries });
    const caught = async (promise: Promise<unknown>): Promise<UpstreamError> => {
      try {
        await promise;
      } catch (error) {
        assert.ok(error instanceof UpstreamError, `not an UpstreamError: ${error}`);
        return error;
      }
      assert.fail("no error");
    };

    const overloaded = await caught(anthropic.createMessage(request));
    assert.equal(overloaded.kind, "http");
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.upstreamType, "overloaded_error");
    assert.equal(overloaded.upstreamMessage, "Overloaded");
    // One of ptc's errors, with what the upstream said; how the server reports it is not upstream's business.
    assert.ok(PtcError.is(overloaded, ErrorCode.UpstreamFailed));
    assert.equal(overloaded.retryable, true);

    const failed = await caught(openai.createMessage(request));
    assert.equal(failed.provider, "openai");
    assert.equal(failed.status, 500);
    assert.equal(failed.upstreamType, "server_error");
    assert.equal(failed.upstreamMessage, "The server had an error");
    assert.equal(failed.retryable, true);

    const limited = await caught(openai.createMessage(request));
    assert.equal(limited.status, 429);
    assert.equal(limited.retryable, true);
  });

  test("an abort signal cancels the call; a dead upstream is a connection error", async () => {
    server.setScript([
      { text: "late", delayMs: 5_000 },
      { text: "late", delayMs: 5_000 },
    ]);
    const request: UpstreamRequest = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    for (const upstream of [
      createAnthropicUpstream({ apiKey: "k", baseURL: server.url, maxRetries }),
      createOpenAIUpstream({ apiKey: "k", baseURL: server.openaiBaseURL, maxRetries }),
    ]) {
      const started = Date.now();
      await assert.rejects(
        upstream.createMessage(request, { signal: AbortSignal.timeout(100) }),
        (error: unknown) => error instanceof UpstreamError && error.kind === "aborted" && !error.retryable,
      );
      assert.ok(Date.now() - started < 2_000, "aborted promptly");
    }

    const dead = await startScriptedModelServer();
    const deadURL = dead.url;
    await dead.close();
    await assert.rejects(
      createOpenAIUpstream({ apiKey: "k", baseURL: `${deadURL}/v1`, maxRetries }).createMessage(request),
      (error: unknown) => error instanceof UpstreamError && error.kind === "connection",
    );
  });

  test("upstreamFromConfig: keys from config or environment, clear error without one", async () => {
    // api.openai.com (no baseURL) needs a key; an OpenAI-compatible server elsewhere may not (below).
    assert.throws(
      () => upstreamFromConfig({ provider: "openai" }, {}),
      (error: unknown) => PtcError.is(error, "invalid_request") && /OPENAI_API_KEY/.test(error.message),
    );
    assert.throws(
      () => upstreamFromConfig({ provider: "anthropic" }, { ANTHROPIC_API_KEY: "" }),
      (error: unknown) => PtcError.is(error, "invalid_request") && /ANTHROPIC_API_KEY/.test(error.message),
    );
    server.setScript([{ text: "one" }, { text: "two" }]);
    const request: UpstreamRequest = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };

    const openai = upstreamFromConfig(
      { provider: "openai", baseURL: server.openaiBaseURL, model: "configured" },
      { OPENAI_API_KEY: "from-env" },
    );
    assert.equal(openai.provider, "openai");
    assert.equal((await openai.createMessage(request)).model, "configured");
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer from-env");

    const anthropic = upstreamFromConfig({ provider: "anthropic", baseURL: server.url, apiKey: "from-config" }, {});
    assert.equal(anthropic.provider, "anthropic");
    assert.deepEqual((await anthropic.createMessage(request)).content, [{ type: "text", text: "two" }]);
    const headers = server.requests.at(-1)?.headers ?? {};
    assert.ok(headers.authorization === "Bearer from-config" || headers["x-api-key"] === "from-config");
  });

  test("upstreamFromConfig: an OpenAI-compatible server at a baseURL (Ollama) needs no key, and gets none", async () => {
    server.setScript([{ text: "local" }]);
    const request: UpstreamRequest = { model: "qwen3:32b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    // The README's config, verbatim but for the URL: no apiKey, and none in the environment.
    const local = upstreamFromConfig({ provider: "openai", baseURL: server.openaiBaseURL, model: "qwen3:32b" }, {});
    assert.deepEqual((await local.createMessage(request)).content, [{ type: "text", text: "local" }]);
    const headers = server.requests.at(-1)?.headers ?? {};
    assert.equal(headers.authorization, undefined);
    assert.equal(server.requests.at(-1)?.body.model, "qwen3:32b");
    // Anthropic's API always needs one.
    assert.throws(
      () => upstreamFromConfig({ provider: "anthropic", baseURL: server.url }, {}),
      (error: unknown) => PtcError.is(error, "invalid_request") && /ANTHROPIC_API_KEY/.test(error.message),
    );
  });
});
