import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import { defineTool } from "../../../src/protocol/tool.js";
import {
  createMessage as create,
  startEndpointsForFile,
  WEATHER_TOOLS as tools,
} from "../../helpers/anthropic-endpoint.js";
import { testEngine } from "../../helpers/engine.js";

const MODEL = "claude-sonnet-5";
const GATHER_CODE = `import asyncio
paris, oslo = await asyncio.gather(get_weather({"city": "Paris"}), get_weather({"city": "Oslo"}))
print(f"Paris: {paris}")
print(f"Oslo: {oslo}")
`;
const WEATHER: Record<string, string> = { Paris: "sunny, 21C", Oslo: "snow, -3C" };

/** A server-side tool: runs inside ptc, from code, without pausing the script. */
const exchangeRate = defineTool<{ currency: string }, { rate: number }>({
  name: "exchange_rate",
  description: "EUR exchange rate of a currency.",
  inputSchema: { type: "object", properties: { currency: { type: "string" } }, required: ["currency"] },
  allowedCallers: ["code_execution"],
  handler: ({ currency }) => ({ rate: currency === "NOK" ? 11.5 : 1 }),
});

const engine = testEngine({ tools: [exchangeRate] });
const { model, endpoint } = await startEndpointsForFile(engine, {
  anthropic: { format: "anthropic", options: { serverTools: [exchangeRate] } },
  openai: { format: "openai", options: { serverTools: [exchangeRate] } },
});

const ask: Anthropic.MessageParam = { role: "user", content: "What's the weather in Paris and Oslo?" };

function toolUses(message: Anthropic.Message): Anthropic.ToolUseBlock[] {
  return message.content.filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use");
}

function assertMessageShape(message: Anthropic.Message): void {
  for (const key of ["id", "type", "role", "model", "content", "container", "stop_reason", "stop_sequence", "usage"]) {
    assert.ok(key in message, `message.${key}`);
  }
  assert.match(message.id, /^msg_/);
  assert.equal(message.type, "message");
  assert.equal(message.role, "assistant");
  assert.equal(message.model, MODEL);
  for (const key of ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]) {
    assert.ok(key in message.usage, `usage.${key}`);
  }
  assert.ok(message.usage.server_tool_use, "usage.server_tool_use");
}

for (const format of ["anthropic", "openai"] as const) {
  for (const stream of [false, true]) {
    describe(`Anthropic endpoint, ${format} upstream, ${stream ? "streaming" : "non-streaming"}`, () => {
      test("gather of two client tools pauses with two tool_use blocks, resumes with container, ends with the upstream's text", async () => {
        model.setScript([
          { text: "Let me check both cities.", toolCalls: [{ name: "code_execution", input: { code: GATHER_CODE } }] },
          { text: "Paris is sunny; Oslo has snow." },
        ]);
        const client = endpoint(format).client();
        const params: Anthropic.MessageCreateParamsNonStreaming = {
          model: MODEL,
          max_tokens: 1024,
          tools,
          messages: [ask],
        };
        const first = await create(client, params, stream);
        const paused: Anthropic.Message = first.message;
        assertMessageShape(paused);
        assert.equal(paused.stop_reason, "tool_use");
        assert.deepEqual(
          paused.content.map((block) => block.type),
          ["text", "server_tool_use", "tool_use", "tool_use"],
        );
        const serverToolUse = paused.content[1] as Anthropic.ServerToolUseBlock;
        assert.match(serverToolUse.id, /^srvtoolu_/);
        assert.equal(serverToolUse.name, "code_execution");
        assert.deepEqual(serverToolUse.input, { code: GATHER_CODE });
        const calls = toolUses(paused);
        assert.deepEqual(calls.map((call) => (call.input as { city: string }).city).sort(), ["Oslo", "Paris"]);
        for (const call of calls) {
          assert.equal(call.name, "get_weather");
          assert.match(call.id, /^toolu_/);
          assert.deepEqual(call.caller, { type: "code_execution_20260120", tool_id: serverToolUse.id });
        }
        const container: Anthropic.Container | null = paused.container;
        assert.ok(container);
        assert.match(container.id, /^container_/);
        assert.ok(Date.parse(container.expires_at) > Date.now());
        if (stream) {
          const delta = first.events.find((event) => event.type === "message_delta");
          assert.equal(delta?.type === "message_delta" ? delta.delta.container?.id : undefined, container.id);
        }
        // The upstream saw code_execution with the stubs, not get_weather itself; send_email directly.
        const firstRequest = JSON.stringify(model.requests.at(-1)?.body);
        assert.match(firstRequest, /async def get_weather/);
        assert.match(firstRequest, /"send_email"/);
        assert.doesNotMatch(firstRequest, /allowed_callers/);

        const answers: Anthropic.ToolResultBlockParam[] = calls.map((call) => ({
          type: "tool_result",
          tool_use_id: call.id,
          content: WEATHER[(call.input as { city: string }).city] ?? "",
        }));
        const second = await create(
          client,
          {
            ...params,
            container: container.id,
            messages: [ask, { role: "assistant", content: paused.content }, { role: "user", content: answers }],
          },
          stream,
        );
        const final: Anthropic.Message = second.message;
        assertMessageShape(final);
        assert.equal(final.stop_reason, "end_turn");
        assert.deepEqual(
          final.content.map((block) => block.type),
          ["code_execution_tool_result", "text"],
        );
        const result = final.content[0] as Anthropic.CodeExecutionToolResultBlock;
        assert.equal(result.tool_use_id, serverToolUse.id);
        assert.deepEqual(result.content, {
          type: "code_execution_result",
          stdout: "Paris: sunny, 21C\nOslo: snow, -3C\n",
          stderr: "",
          return_code: 0,
          content: [],
        });
        assert.equal((final.content[1] as Anthropic.TextBlock).text, "Paris is sunny; Oslo has snow.");
        assert.equal(final.container?.id, container.id);
        // The upstream got the script's output as the code_execution result; the client's tool traffic stayed out.
        const secondRequest = JSON.stringify(model.requests.at(-1)?.body);
        assert.match(secondRequest, /Paris: sunny, 21C/);
        assert.doesNotMatch(secondRequest, new RegExp(calls[0]?.id ?? "missing"));
        const usage = final.usage as Anthropic.Usage & { ptc?: { upstream_turns: number; code_executions: number } };
        if (!stream) {
          assert.equal(usage.ptc?.upstream_turns, 1);
          assert.equal(usage.ptc?.code_executions, 1);
          assert.ok(final.usage.input_tokens > 0 && final.usage.output_tokens > 0);
        }
      });

      test("a server-side tool runs from code without a pause; usage sums both turns and has the ptc extension", async () => {
        model.setScript([
          {
            toolCalls: [
              {
                name: "code_execution",
                input: {
                  code: 'import json\nr = json.loads(await exchange_rate({"currency": "NOK"}))\nprint(r["rate"])',
                },
              },
            ],
          },
          { text: "One euro is 11.5 NOK." },
        ]);
        const { message, events } = await create(
          endpoint(format).client(),
          { model: MODEL, max_tokens: 512, tools, messages: [{ role: "user", content: "EUR to NOK?" }] },
          stream,
        );
        assert.equal(message.stop_reason, "end_turn");
        assert.deepEqual(
          message.content.map((block) => block.type),
          ["server_tool_use", "code_execution_tool_result", "text"],
        );
        const result = (message.content[1] as Anthropic.CodeExecutionToolResultBlock).content;
        assert.equal(result.type === "code_execution_result" ? result.stdout : result.type, "11.5\n");
        const [firstTurn, secondTurn] = model.requests.slice(-2);
        assert.ok(firstTurn && secondTurn);
        // In a stream the totals arrive in message_delta (the SDK keeps message_start's usage object).
        const delta = events.find((event) => event.type === "message_delta");
        const usage = (
          stream && delta?.type === "message_delta" ? delta.usage : message.usage
        ) as Anthropic.MessageDeltaUsage & {
          ptc?: { upstream_turns: number; code_executions: number; tool_result_tokens_kept_out_of_context: number };
        };
        assert.equal(usage.input_tokens, firstTurn.inputTokens + secondTurn.inputTokens);
        assert.equal(usage.output_tokens, firstTurn.outputTokens + secondTurn.outputTokens);
        assert.equal(usage.ptc?.upstream_turns, 2);
        assert.equal(usage.ptc?.code_executions, 1);
        assert.ok((usage.ptc?.tool_result_tokens_kept_out_of_context ?? 0) > 0);
        assert.equal(message.usage.output_tokens, firstTurn.outputTokens + secondTurn.outputTokens);
      });

      test("a direct tool call goes to the client with caller direct", async () => {
        model.setScript([{ text: "Sending.", toolCalls: [{ name: "send_email", input: { to: "a@example.com" } }] }]);
        const { message } = await create(
          endpoint(format).client(),
          { model: MODEL, max_tokens: 512, tools, messages: [{ role: "user", content: "Email a@example.com" }] },
          stream,
        );
        assert.equal(message.stop_reason, "tool_use");
        const [call] = toolUses(message);
        assert.equal(call?.name, "send_email");
        assert.deepEqual(call?.input, { to: "a@example.com" });
        assert.deepEqual(call?.caller, { type: "direct" });
        assert.equal(message.container, null);
      });
    });
  }
}

describe("Anthropic endpoint: containers", () => {
  test("Python state persists across executions of one container; a fresh request gets a fresh container", async () => {
    const client = endpoint("anthropic").client();
    const run = async (code: string, container?: string) => {
      model.setScript([{ toolCalls: [{ name: "code_execution", input: { code } }] }, { text: "ok" }]);
      const message = await client.messages.create({
        model: MODEL,
        max_tokens: 256,
        tools,
        messages: [{ role: "user", content: "run it" }],
        ...(container ? { container } : {}),
      });
      const result = message.content.find((block) => block.type === "code_execution_tool_result");
      const content = result?.content;
      return { message, stdout: content?.type === "code_execution_result" ? content.stdout : content?.type };
    };
    const first = await run("answer = 41\nprint('set')");
    const id = first.message.container?.id;
    assert.ok(id);
    const second = await run("print(answer + 1)", id);
    assert.equal(second.stdout, "42\n");
    assert.equal(second.message.container?.id, id);
    const fresh = await run("print('answer' in globals())");
    assert.equal(fresh.stdout, "False\n");
    assert.notEqual(fresh.message.container?.id, id);
  });
});
