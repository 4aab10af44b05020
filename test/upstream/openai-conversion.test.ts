import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import { PtcError } from "../../src/protocol/errors.js";
import { UpstreamError, type UpstreamRequest } from "../../src/upstream/index.js";
import { fromOpenAIResponse, RAW_ARGUMENTS_KEY, toOpenAIRequest } from "../../src/upstream/openai-conversion.js";

const codeTool: Anthropic.Tool = {
  name: "code_execution",
  description: "Run Python.",
  input_schema: { type: "object", properties: { code: { type: "string" } }, required: ["code"] },
};

describe("OpenAI chat-completions conversion (pure)", () => {
  test("tool_choice, images and unsupported blocks in the OpenAI conversion", () => {
    const base: UpstreamRequest = { model: "m", max_tokens: 1, tools: [codeTool], messages: [] };
    const choice = (tool_choice: Anthropic.ToolChoice) => toOpenAIRequest({ ...base, tool_choice }).tool_choice;
    assert.equal(choice({ type: "auto" }), "auto");
    assert.equal(choice({ type: "any" }), "required");
    assert.equal(choice({ type: "none" }), "none");
    assert.deepEqual(choice({ type: "tool", name: "code_execution" }), {
      type: "function",
      function: { name: "code_execution" },
    });
    const withImage = toOpenAIRequest({
      ...base,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
          ],
        },
      ],
    });
    assert.deepEqual(withImage.messages[0], {
      role: "user",
      content: [
        { type: "text", text: "What is this?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
      ],
    });
    assert.throws(
      () =>
        toOpenAIRequest({
          ...base,
          messages: [
            {
              role: "user",
              content: [{ type: "document", source: { type: "text", media_type: "text/plain", data: "x" } }],
            },
          ],
        }),
      (error: unknown) => PtcError.is(error, "invalid_request") && /document/.test(error.message),
    );
  });

  test("OpenAI replies: unparseable arguments are kept, finish reasons and cached usage map", () => {
    const completion = (
      message: Partial<OpenAI.Chat.ChatCompletionMessage>,
      finish_reason: OpenAI.Chat.ChatCompletion.Choice["finish_reason"],
      usage?: OpenAI.CompletionUsage,
    ): OpenAI.Chat.ChatCompletion => ({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 0,
      model: "m",
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason,
          message: { role: "assistant", content: null, refusal: null, ...message },
        },
      ],
      ...(usage ? { usage } : {}),
    });
    const broken = fromOpenAIResponse(
      completion(
        {
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "code_execution", arguments: '{"code": "print(' } },
            { id: "call_b", type: "function", function: { name: "code_execution", arguments: "" } },
          ],
        },
        "stop",
      ),
    );
    assert.equal(broken.stop_reason, "tool_use", "tool calls under finish_reason stop still mean tool_use");
    assert.deepEqual(
      broken.content.map((block) => block.type === "tool_use" && block.input),
      [{ [RAW_ARGUMENTS_KEY]: '{"code": "print(' }, {}],
    );
    assert.equal(fromOpenAIResponse(completion({ content: "no" }, "content_filter")).stop_reason, "refusal");
    const refusal = fromOpenAIResponse(completion({ refusal: "I can't help with that." }, "stop"));
    assert.equal(refusal.stop_reason, "refusal");
    assert.deepEqual(refusal.content, [{ type: "text", text: "I can't help with that." }]);
    const cached = fromOpenAIResponse(
      completion({ content: "ok" }, "stop", {
        prompt_tokens: 100,
        completion_tokens: 5,
        total_tokens: 105,
        prompt_tokens_details: { cached_tokens: 60 },
      }),
    );
    assert.deepEqual(cached.usage, { input_tokens: 40, output_tokens: 5, cache_read_input_tokens: 60 });
    assert.throws(
      () => fromOpenAIResponse({ ...completion({}, "stop"), choices: [] }),
      (error: unknown) => error instanceof UpstreamError && error.kind === "invalid_response",
    );
  });
});
