/**
 * Direct calls of the upstream model that `/v1/messages` must not forward: a tool the request declares
 * code-only (`allowed_callers` without `direct`), a server tool (code-only too), or a name the request
 * does not define. They never reach the client; the upstream gets an error tool_result saying why.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import { defineTool } from "../../../src/protocol/tool.js";
import { RefusedCallStore } from "../../../src/server/anthropic/refused-calls.js";
import {
  createMessage as create,
  startEndpointsForFile,
  WEATHER_TOOLS as tools,
  type UpstreamFormat,
} from "../../helpers/anthropic-endpoint.js";
import { testEngine } from "../../helpers/engine.js";
import { conversationOf, type RecordedRequest } from "../../helpers/scripted-model-server.js";

const MODEL = "claude-sonnet-5";
const exchangeCalls: unknown[] = [];
const exchangeRate = defineTool<{ currency: string }, { rate: number }>({
  name: "exchange_rate",
  inputSchema: { type: "object", properties: { currency: { type: "string" } }, required: ["currency"] },
  allowedCallers: ["code_execution"],
  handler: (input) => {
    exchangeCalls.push(input);
    return { rate: 11.5 };
  },
});

const MAX_TURNS = 3;
const engine = testEngine({ tools: [exchangeRate] });
const bounded = { serverTools: [exchangeRate], maxUpstreamTurns: MAX_TURNS };
const { model, endpoint } = await startEndpointsForFile(engine, {
  anthropic: { format: "anthropic", options: { serverTools: [exchangeRate] } },
  "anthropic-bounded": { format: "anthropic", options: bounded },
  openai: { format: "openai", options: { serverTools: [exchangeRate] } },
  "openai-bounded": { format: "openai", options: bounded },
});

function client(name: string): Anthropic {
  return endpoint(name).client();
}

type PtcUsage = { upstream_turns: number; code_executions: number; refused_tool_calls: number };

/** The usage totals: the message's, or in a stream message_delta's (the SDK drops `ptc` from finalMessage). */
function usageOf(
  message: Anthropic.Message,
  events: readonly Anthropic.MessageStreamEvent[],
): { input_tokens: number | null; output_tokens: number; ptc?: PtcUsage } {
  const delta = events.find((event) => event.type === "message_delta");
  if (delta?.type === "message_delta") return delta.usage as Anthropic.MessageDeltaUsage & { ptc?: PtcUsage };
  return message.usage as Anthropic.Usage & { ptc?: PtcUsage };
}

/** Asserts the upstream request answered a refused call of `name` with an error result matching `reason`. */
function assertRefusalSent(request: RecordedRequest | undefined, name: string, reason: RegExp): void {
  assert.ok(request);
  const { calls, results } = conversationOf(request);
  const call = calls.find((candidate) => candidate.name === name);
  assert.ok(call, `the upstream's own call of ${name} is in its history`);
  const result = results.find((candidate) => candidate.id === call.id);
  assert.ok(result, `an error tool_result answers the call of ${name}`);
  assert.match(result.content, reason);
  if (request.format === "openai") assert.match(result.content, /^Error: /);
  else assert.equal(result.isError, true);
}

function assertNoToolUse(message: Anthropic.Message, events: readonly Anthropic.MessageStreamEvent[], name: string) {
  const names = message.content.filter((block) => block.type === "tool_use").map((block) => block.name);
  assert.ok(!names.includes(name), `no tool_use of ${name} in the content (${names.join(", ")})`);
  for (const event of events) {
    if (event.type !== "content_block_start") continue;
    const block = event.content_block;
    assert.ok(!(block.type === "tool_use" && block.name === name), `no tool_use of ${name} in the stream`);
  }
}

const REFUSED = [
  {
    name: "get_weather",
    input: { city: "Paris" },
    reason: /^(Error: )?get_weather can only be called from code_execution/,
  },
  {
    name: "exchange_rate",
    input: { currency: "NOK" },
    reason: /^(Error: )?exchange_rate can only be called from code_execution/,
  },
  { name: "foo", input: {}, reason: /^(Error: )?no tool named foo in this request$/ },
] as const;

const ask = (content: string): Anthropic.MessageParam => ({ role: "user", content });

/** The first turn of a two-turn test: the refused call of `refused` is not in it, and it pauses on tool calls. */
async function firstTurn(format: UpstreamFormat, stream: boolean, prompt: string, refused: string) {
  const anthropic = client(format);
  const params: Anthropic.MessageCreateParamsNonStreaming = {
    model: MODEL,
    max_tokens: 512,
    tools,
    messages: [ask(prompt)],
  };
  const first = await create(anthropic, params, stream);
  assertNoToolUse(first.message, first.events, refused);
  assert.equal(first.message.stop_reason, "tool_use");
  const calls = first.message.content.filter((block) => block.type === "tool_use");
  return { anthropic, params, first, calls };
}

for (const format of ["anthropic", "openai"] as const satisfies readonly UpstreamFormat[]) {
  for (const stream of [false, true]) {
    describe(`refused direct calls, ${format} upstream, ${stream ? "streaming" : "non-streaming"}`, () => {
      for (const refused of REFUSED) {
        test(`a direct call of ${refused.name} is answered upstream with the reason; the client gets the next turn`, async () => {
          model.setScript([
            { toolCalls: [{ name: refused.name, input: refused.input }] },
            { text: "Let me do that from code instead." },
          ]);
          const start = model.requests.length;
          exchangeCalls.length = 0;
          const { message, events } = await create(
            client(format),
            { model: MODEL, max_tokens: 512, tools, messages: [ask("Weather in Paris?")] },
            stream,
          );
          assertNoToolUse(message, events, refused.name);
          assert.equal(message.stop_reason, "end_turn");
          assert.deepEqual(
            message.content.map((block) => (block.type === "text" ? block.text : block.type)),
            ["Let me do that from code instead."],
          );
          const sent = model.requests.slice(start);
          assert.equal(sent.length, 2);
          assertRefusalSent(sent[1], refused.name, refused.reason);
          assert.deepEqual(exchangeCalls, [], "the server tool never ran");
          const usage = usageOf(message, events);
          assert.equal(usage.input_tokens, (sent[0]?.inputTokens ?? 0) + (sent[1]?.inputTokens ?? 0));
          assert.equal(usage.output_tokens, (sent[0]?.outputTokens ?? 0) + (sent[1]?.outputTokens ?? 0));
          assert.equal(usage.ptc?.upstream_turns, 2);
          assert.equal(usage.ptc?.refused_tool_calls, 1);
        });
      }

      test("a turn mixing an allowed direct call with a refused one: the client gets only the allowed one, the upstream both answers", async () => {
        model.setScript([
          {
            toolCalls: [
              { name: "send_email", input: { to: "a@example.com" } },
              { name: "get_weather", input: { city: "Oslo" } },
            ],
          },
          { text: "Sent." },
        ]);
        const start = model.requests.length;
        const { anthropic, params, first, calls } = await firstTurn(
          format,
          stream,
          "Email a@example.com the weather in Oslo",
          "get_weather",
        );
        assert.deepEqual(
          calls.map((call) => [call.name, call.caller]),
          [["send_email", { type: "direct" }]],
        );
        assert.equal(usageOf(first.message, first.events).ptc?.refused_tool_calls, 1);

        const emailId = calls[0]?.id ?? "";
        const second = await create(
          anthropic,
          {
            ...params,
            messages: [
              ...params.messages,
              { role: "assistant", content: first.message.content },
              { role: "user", content: [{ type: "tool_result", tool_use_id: emailId, content: "sent" }] },
            ],
          },
          stream,
        );
        assert.equal(second.message.stop_reason, "end_turn");
        assert.deepEqual(
          second.message.content.map((block) => (block.type === "text" ? block.text : block.type)),
          ["Sent."],
        );
        const sent = model.requests.slice(start);
        assert.equal(sent.length, 2);
        // The refused call's error result reaches the upstream together with the client's answer.
        assertRefusalSent(sent[1], "get_weather", /get_weather can only be called from code_execution/);
        const { results } = conversationOf(sent[1] as RecordedRequest);
        assert.deepEqual(results.find((result) => result.id === emailId)?.content, "sent");
      });

      test("a refused call beside a paused script: its result reaches the upstream once the script is resumed", async () => {
        const code = 'print(await get_weather({"city": "Oslo"}))';
        model.setScript([
          {
            toolCalls: [
              { name: "code_execution", input: { code } },
              { name: "foo", input: { x: 1 } },
            ],
          },
          { text: "Oslo: snow." },
        ]);
        const start = model.requests.length;
        const { anthropic, params, first, calls } = await firstTurn(format, stream, "Weather in Oslo?", "foo");
        assert.deepEqual(
          calls.map((call) => [call.name, call.caller.type]),
          [["get_weather", "code_execution_20260120"]],
        );
        const second = await create(
          anthropic,
          {
            ...params,
            container: first.message.container?.id ?? "",
            messages: [
              ...params.messages,
              { role: "assistant", content: first.message.content },
              {
                role: "user",
                content: calls.map((call) => ({ type: "tool_result" as const, tool_use_id: call.id, content: "snow" })),
              },
            ],
          },
          stream,
        );
        assert.equal(second.message.stop_reason, "end_turn");
        assert.deepEqual(
          second.message.content.map((block) => block.type),
          ["code_execution_tool_result", "text"],
        );
        const sent = model.requests.slice(start);
        assert.equal(sent.length, 2);
        assertRefusalSent(sent[1], "foo", /no tool named foo in this request/);
        assert.match(JSON.stringify(sent[1]?.body), /stdout:\\nsnow/);
      });

      test("a model that keeps calling a refused tool stops at the upstream turn bound with pause_turn", async () => {
        model.setScript(() => ({ toolCalls: [{ name: "get_weather", input: { city: "Rome" } }] }));
        const start = model.requests.length;
        const { message, events } = await create(
          client(`${format}-bounded`),
          { model: MODEL, max_tokens: 512, tools, messages: [ask("Weather in Rome?")] },
          stream,
        );
        assertNoToolUse(message, events, "get_weather");
        assert.equal(message.stop_reason, "pause_turn");
        assert.equal(model.requests.length - start, MAX_TURNS);
        const usage = usageOf(message, events);
        assert.equal(usage.ptc?.upstream_turns, MAX_TURNS);
        assert.equal(usage.ptc?.refused_tool_calls, MAX_TURNS);
      });
    });
  }
}

test("RefusedCallStore: kept per API key beside each client-visible call id, until its time runs out", () => {
  const store = new RefusedCallStore(1_000);
  const calls = [{ id: "toolu_F", name: "foo", input: {}, reason: "no tool named foo in this request" }];
  store.remember("key-a", ["toolu_D", "srvtoolu_S"], calls, 0);
  assert.equal(store.lookup("key-a", "toolu_D", 500), calls);
  assert.equal(store.lookup("key-a", "srvtoolu_S", 1_400), calls, "a use keeps it alive");
  assert.equal(store.lookup("key-b", "toolu_D", 1_400), undefined, "another key's history never gets it");
  assert.equal(store.lookup("key-a", "toolu_other", 1_400), undefined);
  assert.equal(store.lookup("key-a", "toolu_D", 2_500), undefined, "expired");
  assert.equal(store.size, 0);
});

test("RefusedCallStore: a key past its share drops its own oldest refusals, never another key's", () => {
  const store = new RefusedCallStore(60_000);
  const calls = [{ id: "toolu_F", name: "foo", input: {}, reason: "no tool named foo in this request" }];
  store.remember("key-a", ["toolu_A"], calls, 0);
  for (let index = 0; index < 10_001; index++) store.remember("key-b", [`toolu_B${index}`], calls, 1 + index);
  assert.equal(store.lookup("key-a", "toolu_A", 20_000), calls, "the other key's flood left it alone");
  assert.equal(store.lookup("key-b", "toolu_B0", 20_000), undefined, "the flooding key's oldest went");
  assert.equal(store.lookup("key-b", "toolu_B10000", 20_000), calls);
  assert.equal(store.size, 1_001);
});
