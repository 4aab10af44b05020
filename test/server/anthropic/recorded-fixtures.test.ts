import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import { assertKeysCovered, type Endpoint, eventShape, startEndpoint } from "../../helpers/anthropic-endpoint.js";
import { testEngine } from "../../helpers/engine.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../../helpers/scripted-model-server.js";

const FIXTURES = "test/fixtures/anthropic-recorded";
const MODEL = "claude-sonnet-5";
type RecordedEvent = { type: string } & Record<string, unknown>;

const tools: Anthropic.ToolUnion[] = [
  { type: "code_execution_20250825", name: "code_execution" },
  {
    name: "rollDie",
    description: "Roll a die for a player. Returns the number rolled.",
    input_schema: { type: "object", properties: { player: { type: "string" } }, required: ["player"] },
    allowed_callers: ["code_execution_20250825"],
  },
];
const prompt: Anthropic.MessageParam = {
  role: "user",
  content: "Two players roll dice until one wins 3 rounds; one die is loaded. Who has it?",
};

/** The streamed recording, as one list of events per message (split at message_stop). */
async function recordedMessages(): Promise<RecordedEvent[][]> {
  const text = await readFile(`${FIXTURES}/anthropic-programmatic-tool-calling.1.chunks.txt`, "utf8");
  const messages: RecordedEvent[][] = [[]];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as RecordedEvent;
    messages.at(-1)?.push(event);
    if (event.type === "message_stop") messages.push([]);
  }
  return messages.filter((events) => events.length > 0);
}

/** Concatenates a block's deltas (text or input JSON) from recorded events. */
function blockText(events: RecordedEvent[], index: number, field: "text" | "partial_json"): string {
  return events
    .filter((event) => event.type === "content_block_delta" && event.index === index)
    .map((event) => String((event.delta as Record<string, unknown>)[field] ?? ""))
    .join("");
}

/** The rolls the recorded client returned, per player, read back from the recorded stdout. */
function recordedRolls(stdout: string): Record<string, string[]> {
  const rolls: Record<string, string[]> = { player1: [], player2: [] };
  for (const match of stdout.matchAll(/Player (\d) rolls: (\d)/g)) rolls[`player${match[1]}`]?.push(match[2] as string);
  return rolls;
}

function answer(message: Anthropic.Message, rolls: Record<string, string[]>): Anthropic.ToolResultBlockParam[] {
  return message.content
    .filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use")
    .map((call) => {
      const player = String((call.input as { player: string }).player);
      const roll = rolls[player]?.shift();
      assert.ok(roll, `no recorded roll left for ${player}`);
      return { type: "tool_result", tool_use_id: call.id, content: roll };
    });
}

const engine = testEngine();
let model: ScriptedModelServer;
let anthropicEndpoint: Endpoint;
let openaiEndpoint: Endpoint;
before(async () => {
  model = await startScriptedModelServer();
  anthropicEndpoint = await startEndpoint(engine, model, "anthropic");
  openaiEndpoint = await startEndpoint(engine, model, "openai");
});
after(async () => {
  await anthropicEndpoint.close();
  await openaiEndpoint.close();
  await model.close();
  await engine.close();
});

describe("recorded Anthropic conversations replayed through ptc's /v1/messages", () => {
  test("streamed dice game: same messages, event order and fields as the recording, same stdout", async () => {
    const recorded = await recordedMessages();
    const opening = recorded[0] ?? [];
    const closing = recorded.at(-1) ?? [];
    const code = (JSON.parse(blockText(opening, 1, "partial_json")) as { code: string }).code;
    const start = closing.find((event) => event.type === "content_block_start" && event.index === 0);
    assert.ok(start);
    const recordedResult = (start.content_block as Anthropic.CodeExecutionToolResultBlock).content;
    assert.equal(recordedResult.type, "code_execution_result");
    const recordedStdout = recordedResult.type === "code_execution_result" ? recordedResult.stdout : "";
    model.setScript([
      { text: blockText(opening, 0, "text"), toolCalls: [{ name: "code_execution", input: { code } }] },
      { text: blockText(closing, 1, "text") },
    ]);
    const rolls = recordedRolls(recordedStdout);
    const client = anthropicEndpoint.client();
    const messages: Anthropic.MessageParam[] = [prompt];
    const ours: RecordedEvent[][] = [];
    let container: string | undefined;
    let final: Anthropic.Message | undefined;
    for (let turn = 0; turn < 40 && !final; turn++) {
      const stream = client.messages.stream({
        model: MODEL,
        max_tokens: 4096,
        tools,
        messages,
        ...(container ? { container } : {}),
      });
      const events: RecordedEvent[] = [];
      for await (const event of stream) events.push(event as unknown as RecordedEvent);
      ours.push(events);
      const message = await stream.finalMessage();
      container = message.container?.id;
      if (message.stop_reason !== "tool_use") final = message;
      else
        messages.push(
          { role: "assistant", content: message.content },
          { role: "user", content: answer(message, rolls) },
        );
    }
    assert.ok(final);
    assert.equal(ours.length, recorded.length, "one message per pause, as recorded");
    recorded.forEach((recordedEvents, index) => {
      const mine = ours[index] ?? [];
      assert.deepEqual(eventShape(mine), eventShape(recordedEvents), `event order of message ${index}`);
      // Field by field on the events that are not deltas (delta counts differ with chunking).
      const structural = (events: RecordedEvent[]) =>
        events.filter((event) => !["ping", "content_block_delta"].includes(event.type));
      const theirs = structural(recordedEvents);
      structural(mine).forEach((event, position) => {
        assertKeysCovered(theirs[position], event, `message ${index} event ${position} (${event.type})`);
      });
    });
    const result = final.content.find((block) => block.type === "code_execution_tool_result");
    assert.equal(result?.content.type === "code_execution_result" ? result.content.stdout : undefined, recordedStdout);
    assert.equal(final.container?.id, container);
  });

  test("non-streamed dice game with asyncio.gather: two pending calls per pause, recorded stdout, recorded fields", async () => {
    const recorded = JSON.parse(
      await readFile(`${FIXTURES}/anthropic-programmatic-tool-calling.1.json`, "utf8"),
    ) as Anthropic.Message;
    const serverToolUse = recorded.content.find((block) => block.type === "server_tool_use");
    const recordedResult = recorded.content.find((block) => block.type === "code_execution_tool_result");
    assert.ok(serverToolUse && recordedResult?.content.type === "code_execution_result");
    const texts = recorded.content.filter((block) => block.type === "text").map((block) => block.text);
    model.setScript([
      {
        text: texts[0],
        toolCalls: [{ name: "code_execution", input: serverToolUse.input as Record<string, unknown> }],
      },
      { text: texts[1] },
    ]);
    const rolls = recordedRolls(recordedResult.content.stdout);
    const client = openaiEndpoint.client();
    const messages: Anthropic.MessageParam[] = [prompt];
    const blocks: Anthropic.ContentBlock[] = [];
    let container: string | undefined;
    let final: Anthropic.Message | undefined;
    for (let turn = 0; turn < 20 && !final; turn++) {
      const message = await client.messages.create({
        model: MODEL,
        max_tokens: 4096,
        tools,
        messages,
        ...(container ? { container } : {}),
      });
      blocks.push(...message.content);
      container = message.container?.id;
      if (message.stop_reason !== "tool_use") final = message;
      else {
        const calls = message.content.filter((block) => block.type === "tool_use");
        assert.equal(calls.length, 2, "both players' rolls are pending at once");
        messages.push(
          { role: "assistant", content: message.content },
          { role: "user", content: answer(message, rolls) },
        );
      }
    }
    assert.ok(final);
    const result = final.content.find((block) => block.type === "code_execution_tool_result");
    assert.deepEqual(result?.content, recordedResult.content);
    assertKeysCovered({ ...recorded, content: [] }, { ...final, content: [] });
    for (const block of recorded.content) {
      const ours = blocks.find((candidate) => candidate.type === block.type);
      assertKeysCovered(block, ours, `block ${block.type}`);
    }
  });

  test("message_delta of a code_execution_20260120 recording: our delta has every field it has", async () => {
    const text = await readFile(`${FIXTURES}/anthropic-code-execution-20260120-prompt-cache.1.chunks.txt`, "utf8");
    const events = text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RecordedEvent);
    const recordedDelta = events.find((event) => event.type === "message_delta");
    model.setScript([
      { toolCalls: [{ name: "code_execution", input: { code: "print(sum(n * n for n in range(1, 13)))" } }] },
      { text: "650" },
    ]);
    const stream = anthropicEndpoint.client().messages.stream({
      model: MODEL,
      max_tokens: 1024,
      tools: [{ type: "code_execution_20260120", name: "code_execution" }],
      messages: [{ role: "user", content: "Sum of squares 1..12?" }],
    });
    const ours: RecordedEvent[] = [];
    for await (const event of stream) ours.push(event as unknown as RecordedEvent);
    const delta = ours.find((event) => event.type === "message_delta");
    const { inference_geo: _geo, ...recordedStart } = (events[0]?.message ?? {}) as Record<string, unknown>;
    assertKeysCovered(
      { ...recordedDelta, usage: { ...(recordedDelta?.usage as object), output_tokens_details: null } },
      delta,
    );
    assertKeysCovered({ ...recordedStart, content: [] }, { ...(ours[0]?.message as object), content: [] });
    const message = await stream.finalMessage();
    assert.deepEqual(
      message.content.map((block) => block.type),
      ["server_tool_use", "code_execution_tool_result", "text"],
    );
    assert.ok(message.container?.id.startsWith("container_"));
  });
});
