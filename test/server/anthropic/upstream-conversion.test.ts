import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { blockEvents, sseEvent } from "../../../src/server/anthropic/message-stream.js";
import { codeCallAnswers, validateRequest } from "../../../src/server/anthropic/request-validation.js";
import { hasCircularRef } from "../../../src/server/anthropic/tool-validation.js";
import { requestTools, upstreamMessages } from "../../../src/server/anthropic/upstream-conversion.js";

const CALLER = { type: "code_execution_20260120", tool_id: "srvtoolu_A" } as const;
const tools = [
  { type: "code_execution_20260120", name: "code_execution" },
  {
    name: "query",
    input_schema: { type: "object" },
    allowed_callers: ["code_execution_20260120"],
    cache_control: { type: "ephemeral" },
  },
  { name: "notify", description: "Tell someone.", input_schema: { type: "object" }, strict: false },
];

describe("Anthropic endpoint: pure parts", () => {
  test("circular $ref detection: recursive definitions and self references, not repeated ones", () => {
    assert.equal(hasCircularRef({ type: "object", properties: { a: { $ref: "#" } } }), true);
    assert.equal(
      hasCircularRef({
        type: "object",
        properties: { n: { $ref: "#/$defs/n" } },
        $defs: { n: { properties: { next: { $ref: "#/$defs/n" } } } },
      }),
      true,
    );
    assert.equal(
      hasCircularRef({
        type: "object",
        properties: { a: { $ref: "#/$defs/x" }, b: { $ref: "#/$defs/x" } },
        $defs: { x: { type: "string" } },
      }),
      false,
    );
  });

  test("tools for the upstream: direct tools stripped to portable fields, code_execution carries the stubs", () => {
    const request = validateRequest({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }], tools });
    const { upstreamTools, engineTools } = requestTools(request, []);
    assert.deepEqual(
      upstreamTools?.map((tool) => tool.name),
      ["notify", "code_execution"],
    );
    assert.deepEqual(upstreamTools?.[0], {
      name: "notify",
      description: "Tell someone.",
      input_schema: { type: "object" },
    });
    assert.match(upstreamTools?.[1]?.description ?? "", /async def query/);
    assert.deepEqual(
      engineTools.map((tool) => [tool.name, tool.allowedCallers, tool.handler]),
      [["query", ["code_execution"], undefined]],
    );
  });

  test("history for the upstream: server blocks become a code_execution tool_use/tool_result, the script's calls vanish", () => {
    const history: Anthropic.MessageParam[] = [
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Running." },
          {
            type: "server_tool_use",
            id: "srvtoolu_A",
            name: "code_execution",
            input: { code: "x" },
            caller: { type: "direct" },
          },
          { type: "tool_use", id: "toolu_1", name: "query", input: {}, caller: CALLER },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "rows" }] },
    ];
    const produced: Anthropic.ContentBlock[] = [
      {
        type: "code_execution_tool_result",
        tool_use_id: "srvtoolu_A",
        content: { type: "code_execution_result", stdout: "3\n", stderr: "", return_code: 0, content: [] },
      },
      { type: "text", text: "Three.", citations: null },
    ];
    assert.deepEqual(upstreamMessages(history, produced, new Set()), [
      { role: "user", content: [{ type: "text", text: "go" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Running." },
          { type: "tool_use", id: "srvtoolu_A", name: "code_execution", input: { code: "x" } },
        ],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "srvtoolu_A", content: "return_code: 0\nstdout:\n3\n" }],
      },
      { role: "assistant", content: [{ type: "text", text: "Three." }] },
    ]);
    // A code call the upstream never got a result for is closed with an error result.
    const dangling = upstreamMessages(history.slice(0, 2), [], new Set());
    assert.deepEqual(dangling.at(-1), {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "srvtoolu_A", content: "Code execution did not finish.", is_error: true },
      ],
    });
  });

  test("resume detection: by caller, or by a known id when the client dropped caller", () => {
    const messages = (caller: object | undefined): Anthropic.MessageParam[] => [
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          {
            type: "tool_use",
            id: "toolu_1",
            name: "query",
            input: {},
            ...(caller ? { caller } : {}),
          } as Anthropic.ToolUseBlockParam,
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
            is_error: true,
          },
        ],
      },
    ];
    const request = validateRequest({
      model: "m",
      max_tokens: 10,
      tools,
      container: "container_x",
      messages: messages(CALLER),
    });
    assert.deepEqual(codeCallAnswers(request, new Set()), [{ toolUseId: "toolu_1", text: "a\nb", isError: true }]);
    const dropped = validateRequest({
      model: "m",
      max_tokens: 10,
      tools,
      container: { id: "container_x" },
      messages: messages(undefined),
    });
    assert.equal(codeCallAnswers(dropped, new Set()), undefined);
    assert.equal(codeCallAnswers(dropped, new Set(["toolu_1"]))?.length, 1);
    assert.throws(
      () => codeCallAnswers({ ...request, container: undefined }, new Set()),
      (error: unknown) => PtcError.is(error, ErrorCode.InvalidRequest),
    );
  });

  test("SSE encoding: named events; model-written inputs as JSON deltas, code calls and results whole", () => {
    assert.equal(sseEvent({ type: "message_stop" }), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
    const server = blockEvents(
      {
        type: "server_tool_use",
        id: "srvtoolu_A",
        name: "code_execution",
        input: { code: "print(1)" },
        caller: { type: "direct" },
      },
      1,
    );
    assert.deepEqual(
      server.map((event) => event.type),
      ["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"],
    );
    assert.deepEqual(server[0], {
      type: "content_block_start",
      index: 1,
      content_block: {
        type: "server_tool_use",
        id: "srvtoolu_A",
        name: "code_execution",
        input: {},
        caller: { type: "direct" },
      },
    });
    const call = blockEvents({ type: "tool_use", id: "toolu_1", name: "query", input: { q: 1 }, caller: CALLER }, 2);
    assert.deepEqual(
      call.map((event) => event.type),
      ["content_block_start", "content_block_stop"],
    );
  });
});
