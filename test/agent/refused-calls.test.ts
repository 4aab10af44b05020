/**
 * runAgent: a direct call by the model to a code-only tool, or to a name the run does not offer, never
 * reaches a handler; the model gets an error tool_result saying why, and the loop goes on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AgentEvent, runAgent } from "../../src/agent/index.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { testEngine } from "../helpers/engine.js";
import {
  conversationOf,
  type RecordedRequest,
  startScriptedModelServerForFile,
  upstreamAdapters,
} from "../helpers/scripted-model-server.js";

const engine = testEngine({ pool: { size: 1 } });
const server = await startScriptedModelServerForFile(engine);

/** A code-only tool whose handler records every call: a refused direct call must never run it. */
const handlerCalls: unknown[] = [];
const getWeather: ToolDefinition = {
  name: "get_weather",
  description: "Current weather of a city.",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  allowedCallers: ["code_execution"],
  handler: (input) => {
    handlerCalls.push(input);
    return { city: input.city, celsius: 21 };
  },
};

const ADAPTERS = upstreamAdapters(server);

const CASES = [
  {
    what: "a code-only tool",
    name: "get_weather",
    reason:
      "get_weather can only be called from code_execution: call it from Python in a code_execution script, not as a tool",
  },
  { what: "an unknown tool", name: "foo", reason: "no tool named foo in this run" },
] as const;

for (const adapter of ADAPTERS) {
  describe(`runAgent refuses direct calls it must not run, ${adapter.name} adapter`, () => {
    const model = () => ({ upstream: adapter.upstream(), name: "scripted-model" });
    const failed = (text: string) => (adapter.name === "openai" ? `Error: ${text}` : text);

    for (const refused of CASES) {
      test(`a direct call of ${refused.what} gets an error tool_result with the reason; the loop goes on`, async () => {
        server.setScript([
          { toolCalls: [{ name: refused.name, input: { city: "Oslo" } }] },
          { text: "I will use code instead." },
        ]);
        const start = server.requests.length;
        handlerCalls.length = 0;
        const events: AgentEvent[] = [];
        const result = await runAgent({
          model: model(),
          tools: [getWeather],
          prompt: "Weather in Oslo?",
          engine,
          onEvent: (event) => events.push(event),
        });
        assert.deepEqual(handlerCalls, [], "the handler never ran");
        const sent = server.requests.slice(start);
        assert.equal(sent.length, 2);
        const { calls, results } = conversationOf(sent[1] as RecordedRequest);
        const call = calls.find((candidate) => candidate.name === refused.name);
        assert.ok(call);
        const answer = results.find((candidate) => candidate.id === call.id);
        assert.equal(answer?.content, failed(refused.reason));
        if (adapter.name === "anthropic") assert.equal(answer?.isError, true);
        assert.equal(result.answer, "I will use code instead.");
        assert.equal(result.stopReason, "end_turn");
        assert.deepEqual(
          result.turns.map((turn) => [turn.toolCalls, turn.refusedToolCalls]),
          [
            [0, 1],
            [0, 0],
          ],
        );
        assert.equal(result.usage.inputTokens, (sent[0]?.inputTokens ?? 0) + (sent[1]?.inputTokens ?? 0));
        assert.equal(result.usage.outputTokens, (sent[0]?.outputTokens ?? 0) + (sent[1]?.outputTokens ?? 0));
        const reported = events.find((event) => event.type === "tool-result");
        assert.equal(reported?.type === "tool-result" ? reported.content : undefined, refused.reason);
      });
    }

    test("a model that keeps calling a code-only tool directly stops at maxTurns; the handler never runs", async () => {
      server.setScript(() => ({ toolCalls: [{ name: "get_weather", input: { city: "Rome" } }] }));
      const start = server.requests.length;
      handlerCalls.length = 0;
      const result = await runAgent({
        model: model(),
        tools: [getWeather],
        prompt: "Weather in Rome?",
        maxTurns: 3,
        engine,
      });
      assert.equal(result.stopReason, "max_turns");
      assert.equal(server.requests.length - start, 3);
      assert.deepEqual(handlerCalls, []);
      assert.deepEqual(
        result.turns.map((turn) => turn.refusedToolCalls),
        [1, 1, 1],
      );
    });
  });
}
