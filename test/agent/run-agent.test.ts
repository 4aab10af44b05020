import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { type AgentEvent, DEFAULT_MAX_TURNS, runAgent } from "../../src/agent/index.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createSampleTools } from "../../src/sample/index.js";
import { HandlerToolSource } from "../../src/sources/handler-source.js";
import { createAnthropicUpstream } from "../../src/upstream/anthropic-upstream.js";
import { testEngine } from "../helpers/engine.js";
import { expectedExampleOutputs } from "../helpers/example-expectations.js";
import {
  conversationOf,
  type RecordedRequest,
  type SeenResult,
  startScriptedModelServerForFile,
  upstreamAdapters,
} from "../helpers/scripted-model-server.js";

const engine = testEngine({ pool: { size: 1 } });
const server = await startScriptedModelServerForFile(engine);

const sampleTools = createSampleTools();
const TOP_REGION = expectedExampleOutputs()["examples/sales/top-region.py"];

/** A direct tool (the model calls it itself), with a handler that records its calls. */
const weatherCalls: Record<string, unknown>[] = [];
const getWeather: ToolDefinition = {
  name: "get_weather",
  description: "Current weather of a city.",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  handler: (input) => {
    weatherCalls.push(input);
    return { city: input.city, celsius: 21 };
  },
};
const failingTool: ToolDefinition = {
  name: "always_fails",
  inputSchema: { type: "object" },
  handler: () => {
    throw new Error("the backend is down");
  },
};

const ADAPTERS = upstreamAdapters(server);

/** The tool results the scripted server received in a request, in either wire format. */
function toolResultsIn(request: RecordedRequest): SeenResult[] {
  return conversationOf(request).results;
}

/** Tool names the request offered the model. */
function offeredTools(request: RecordedRequest): string[] {
  const tools = (request.body.tools ?? []) as Array<Record<string, unknown>>;
  return tools.map((tool) =>
    request.format === "openai" ? String((tool.function as Record<string, unknown>).name) : String(tool.name),
  );
}

function requestsSince(start: number): RecordedRequest[] {
  return server.requests.slice(start);
}

for (const adapter of ADAPTERS) {
  describe(`runAgent over the ${adapter.name} adapter`, () => {
    const model = () => ({ upstream: adapter.upstream(), name: "scripted-model" });
    /** An is_error result as the server sees it: Anthropic flags it, chat completions has only the text. */
    const failed = (text: string) => (adapter.name === "openai" ? `Error: ${text}` : text);

    test("a code_execution turn queries the sample database, then the model answers", async () => {
      const code = await readFile("examples/sales/top-region.py", "utf8");
      server.setScript([
        { text: "Let me compute that.", toolCalls: [{ name: "code_execution", input: { code } }] },
        { text: `The answer: ${TOP_REGION.trim()}` },
      ]);
      const start = server.requests.length;
      const events: AgentEvent[] = [];
      const result = await runAgent({
        model: model(),
        tools: sampleTools,
        prompt: "Which core region had the most completed-order revenue?",
        system: "Be brief.",
        engine,
        onEvent: (event) => events.push(event),
      });
      const [first, second] = requestsSince(start);
      assert.ok(first && second);
      // Code-only tools exist only inside the sandbox: the model sees just code_execution, with their stubs.
      assert.deepEqual(offeredTools(first), ["code_execution"]);
      assert.match(JSON.stringify(first.body.tools), /async def query_database/);
      const [seen] = toolResultsIn(second);
      assert.equal(seen?.content, `return_code: 0\nstdout:\n${TOP_REGION}`);
      assert.notEqual(seen?.isError, true);

      assert.equal(result.answer, `The answer: ${TOP_REGION.trim()}`);
      assert.equal(result.stopReason, "end_turn");
      assert.equal(result.turns.length, 2);
      assert.deepEqual(
        result.turns.map(({ toolCalls, codeExecutions, scriptToolCalls }) => [
          toolCalls,
          codeExecutions,
          scriptToolCalls,
        ]),
        [
          [0, 1, 5],
          [0, 0, 0],
        ],
      );
      // The adapter reports the server's real token counts.
      assert.deepEqual(
        result.turns.map((turn) => turn.inputTokens),
        [first.inputTokens, second.inputTokens],
      );
      assert.equal(result.usage.inputTokens, first.inputTokens + second.inputTokens);
      assert.equal(result.toolResultBytesInContext, Buffer.byteLength(seen?.content ?? ""));
      assert.ok(result.tokensKeptOutOfContext > 0);
      assert.equal(result.executions.length, 1);
      assert.equal(result.transcript.length, 4);
      assert.deepEqual(result.transcript[0], {
        role: "user",
        content: "Which core region had the most completed-order revenue?",
      });
      assert.ok(events.some((event) => event.type === "execution"));
      // The run's container is closed when it returns.
      assert.equal(engine.hasContainer(result.executions[0]?.containerId ?? ""), false);
    });

    test("scripts of one run share a container: Python state persists between turns", async () => {
      server.setScript([
        {
          toolCalls: [{ name: "code_execution", input: { code: "rows = await query_database(sql='SELECT 41 AS n')" } }],
        },
        { toolCalls: [{ name: "code_execution", input: { code: "print(rows[0]['n'] + 1)" } }] },
        { text: "42" },
      ]);
      const start = server.requests.length;
      const result = await runAgent({ model: model(), tools: sampleTools, prompt: "count", engine });
      assert.equal(result.answer, "42");
      const last = requestsSince(start)[2];
      assert.ok(last);
      assert.equal(toolResultsIn(last).at(-1)?.content, "return_code: 0\nstdout:\n42\n");
    });

    test("a direct tool call runs its handler and returns its JSON", async () => {
      server.setScript([{ toolCalls: [{ name: "get_weather", input: { city: "Oslo" } }] }, { text: "21 °C in Oslo." }]);
      const start = server.requests.length;
      weatherCalls.length = 0;
      const result = await runAgent({
        model: model(),
        tools: [getWeather, ...sampleTools],
        prompt: "Weather?",
        engine,
      });
      const [first, second] = requestsSince(start);
      assert.ok(first && second);
      assert.deepEqual(offeredTools(first).sort(), ["code_execution", "get_weather"]);
      assert.deepEqual(weatherCalls, [{ city: "Oslo" }]);
      assert.equal(toolResultsIn(second)[0]?.content, JSON.stringify({ city: "Oslo", celsius: 21 }));
      assert.equal(result.answer, "21 °C in Oslo.");
      assert.deepEqual(result.turns[0] && [result.turns[0].toolCalls, result.turns[0].codeExecutions], [1, 0]);
      assert.equal(result.executions.length, 0);
    });

    test("parallel tool_use blocks in one turn all get their results, in order", async () => {
      server.setScript([
        {
          toolCalls: [
            { name: "get_weather", input: { city: "Oslo" } },
            {
              name: "code_execution",
              input: { code: "print(len(await query_database(sql='SELECT id FROM regions')))" },
            },
            { name: "get_weather", input: { city: "Rome" } },
            { name: "always_fails", input: {} },
          ],
        },
        { text: "done" },
      ]);
      const start = server.requests.length;
      const result = await runAgent({
        model: model(),
        tools: [getWeather, failingTool, ...sampleTools],
        prompt: "all at once",
        engine,
      });
      const [first, second] = requestsSince(start);
      assert.ok(first && second);
      const seen = toolResultsIn(second);
      const ids = result.transcript[1]?.content;
      assert.ok(Array.isArray(ids));
      assert.deepEqual(
        seen.map((entry) => entry.id),
        ids.map((block) => (block.type === "tool_use" ? block.id : "")),
      );
      assert.equal(seen[0]?.content, JSON.stringify({ city: "Oslo", celsius: 21 }));
      assert.equal(seen[1]?.content, "return_code: 0\nstdout:\n50\n");
      assert.equal(seen[2]?.content, JSON.stringify({ city: "Rome", celsius: 21 }));
      assert.equal(seen[3]?.content, failed("the backend is down"));
      if (adapter.name === "anthropic")
        assert.deepEqual(
          seen.map((entry) => entry.isError === true),
          [false, false, false, true],
        );
      assert.deepEqual(result.turns[0] && [result.turns[0].toolCalls, result.turns[0].codeExecutions], [3, 1]);
      assert.equal(result.answer, "done");
    });

    test("a failing script goes back to the model as the tool_result, and the loop goes on", async () => {
      server.setScript([
        { toolCalls: [{ name: "code_execution", input: { code: "print('before')\nx = 1 / 0" } }] },
        { toolCalls: [{ name: "code_execution", input: { code: "await query_database(sql='DELETE FROM orders')" } }] },
        { toolCalls: [{ name: "no_such_tool", input: {} }] },
        { toolCalls: [{ name: "code_execution", input: { source: "print(1)" } }] },
        { text: "I could not do it." },
      ]);
      const start = server.requests.length;
      const result = await runAgent({ model: model(), tools: sampleTools, prompt: "break things", engine });
      const last = requestsSince(start)[4];
      assert.ok(last);
      const [division, refused, unknown, malformed] = toolResultsIn(last);
      assert.match(division?.content ?? "", /^(Error: )?return_code: 1\nstdout:\nbefore\n\nstderr:\nTraceback/);
      assert.match(division?.content ?? "", /ZeroDivisionError: division by zero\n$/);
      assert.match(refused?.content ?? "", /^(Error: )?return_code: 1\n/);
      assert.match(refused?.content ?? "", /ToolError/);
      assert.equal(unknown?.content, failed("no tool named no_such_tool in this run"));
      assert.equal(malformed?.content, failed('code_execution takes {"code": "<Python source>"}'));
      if (adapter.name === "anthropic") {
        assert.deepEqual(
          [division, refused, unknown, malformed].map((entry) => entry?.isError),
          [true, true, true, true],
        );
      }
      assert.equal(result.stopReason, "end_turn");
      assert.equal(result.answer, "I could not do it.");
      assert.equal(result.executions.length, 2);
    });

    test("traditional mode offers every tool directly and no code_execution", async () => {
      const sql = "SELECT name FROM regions WHERE id <= 2 ORDER BY id";
      server.setScript([{ toolCalls: [{ name: "query_database", input: { sql } }] }, { text: "North and South." }]);
      const start = server.requests.length;
      const result = await runAgent({
        // The convenience config: upstreamFromConfig builds the adapter.
        model: {
          provider: adapter.name,
          model: "scripted-model",
          apiKey: "test-key",
          baseURL: adapter.name === "openai" ? server.openaiBaseURL : server.url,
        },
        tools: sampleTools,
        prompt: "First two regions?",
        mode: "traditional",
        engine,
      });
      const [first, second] = requestsSince(start);
      assert.ok(first && second);
      assert.deepEqual(offeredTools(first).sort(), sampleTools.map((tool) => tool.name).sort());
      assert.equal(first.body.model, "scripted-model");
      const rows = JSON.stringify([{ name: "North" }, { name: "South" }]);
      assert.equal(toolResultsIn(second)[0]?.content, rows);
      assert.equal(result.toolResultBytesInContext, Buffer.byteLength(rows));
      assert.equal(result.tokensKeptOutOfContext, 0);
      assert.equal(result.answer, "North and South.");
    });

    test("stops after maxTurns without running the last turn's tools; tools may come from a ToolSource", async () => {
      server.setScript(() => ({ toolCalls: [{ name: "get_weather", input: { city: "Oslo" } }] }));
      const start = server.requests.length;
      weatherCalls.length = 0;
      const result = await runAgent({
        model: model(),
        tools: [new HandlerToolSource([getWeather])],
        prompt: "loop forever",
        maxTurns: 3,
        maxTokens: 256,
        engine,
      });
      assert.equal(result.stopReason, "max_turns");
      assert.equal(result.turns.length, 3);
      assert.equal(weatherCalls.length, 2);
      const sent = requestsSince(start);
      assert.equal(sent.length, 3);
      assert.equal(sent[0]?.body.max_tokens ?? sent[0]?.body.max_completion_tokens, 256);
      assert.deepEqual(offeredTools(sent[0] as RecordedRequest), ["get_weather"]);
      assert.ok(DEFAULT_MAX_TURNS > 3);
    });
  });
}

test("a conversation given as prompt is continued; bad options are refused before any request", async () => {
  server.setScript([{ text: "You asked about Oslo." }]);
  const start = server.requests.length;
  const upstream = createAnthropicUpstream({ apiKey: "test-key", baseURL: server.url });
  const prompt = [
    { role: "user" as const, content: "Weather in Oslo?" },
    { role: "assistant" as const, content: "21 °C." },
    { role: "user" as const, content: "Which city did I ask about?" },
  ];
  const result = await runAgent({ model: { upstream, name: "scripted-model" }, prompt });
  assert.equal(result.answer, "You asked about Oslo.");
  assert.equal(result.transcript.length, 4);
  assert.deepEqual(server.requests[start]?.body.messages, prompt);
  assert.equal(server.requests[start]?.body.tools, undefined);

  const model = { upstream, name: "scripted-model" };
  await assert.rejects(runAgent({ model, prompt: prompt.slice(0, 2) }), /must end with a user message/);
  await assert.rejects(runAgent({ model, prompt: "x", maxTurns: 0 }), /maxTurns must be a positive integer/);
  await assert.rejects(
    runAgent({ model, prompt: "x", tools: [{ ...getWeather, name: "code_execution" }] }),
    /reserved/,
  );
  const saved = process.env.OPENAI_API_KEY;
  delete process.env.OPENAI_API_KEY;
  try {
    await assert.rejects(
      runAgent({ model: { provider: "openai", model: "m" }, prompt: "x" }),
      /set model.apiKey or OPENAI_API_KEY/,
    );
  } finally {
    if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
  }
  assert.equal(server.requests.length, start + 1);
});

test("runAgent starts and closes its own engine when none is given", async () => {
  server.setScript([
    { toolCalls: [{ name: "code_execution", input: { code: "print('own engine')" } }] },
    { text: "ok" },
  ]);
  const result = await runAgent({
    model: { upstream: createAnthropicUpstream({ apiKey: "test-key", baseURL: server.url }), name: "scripted-model" },
    tools: sampleTools,
    prompt: "run",
  });
  assert.equal(result.executions[0]?.stdout, "own engine\n");
});

test("an aborted run rejects and cancels its script", async () => {
  const controller = new AbortController();
  server.setScript([
    { toolCalls: [{ name: "code_execution", input: { code: "import asyncio\nawait asyncio.sleep(30)" } }] },
    { text: "never" },
  ]);
  const started = Date.now();
  const run = runAgent({
    model: { upstream: createAnthropicUpstream({ apiKey: "test-key", baseURL: server.url }), name: "scripted-model" },
    tools: sampleTools,
    prompt: "sleep",
    engine,
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === "tool-call") setTimeout(() => controller.abort(new Error("stop")), 200);
    },
  });
  await assert.rejects(run, /stop/);
  assert.ok(Date.now() - started < 20_000);
});
