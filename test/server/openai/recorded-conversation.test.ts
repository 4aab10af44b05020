import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type OpenAI from "openai-v7";
import { testEngine } from "../../helpers/engine.js";
import {
  callerIds,
  eventShape,
  INVENTORY_TOOLS,
  itemShape,
  recordedEvents,
  recordedResponse,
  responsesForFile,
} from "../../helpers/responses-endpoint.js";
import { conversationOf } from "../../helpers/scripted-model-server.js";

const MODEL = "gpt-5.6-sol";
const PROMPT: OpenAI.Responses.ResponseInputItem = {
  role: "user",
  content: "Check whether sku_123 has enough inventory for its demand.",
};
/** What the recorded client answered for each tool. */
const OUTPUTS: Record<string, string> = {
  getInventory: JSON.stringify({ sku: "sku_123", availableUnits: 42 }),
  getDemand: JSON.stringify({ sku: "sku_123", requestedUnits: 31 }),
};

const engine = testEngine({ pool: { size: 1 } });
const { model, endpoint } = await responsesForFile(engine, "anthropic");

type Item = OpenAI.Responses.ResponseInputItem;

/** The client's answers to the program-called function calls of `output`, as the recorded client sent them. */
function answers(output: readonly OpenAI.Responses.ResponseOutputItem[]): Item[] {
  return output.flatMap((item): Item[] =>
    item.type === "function_call" && item.caller?.type === "program"
      ? [{ type: "function_call_output", call_id: item.call_id, output: OUTPUTS[item.name] ?? "", caller: item.caller }]
      : [],
  );
}

/** The program the recorded model wrote (from the recorded program item's `code`). */
function recordedProgram(response: OpenAI.Responses.Response): string {
  const program = response.output.find((item) => item.type === "program");
  assert.ok(program?.type === "program");
  return program.code;
}

describe("the recorded OpenAI conversation, replayed through ptc's /v1/responses", () => {
  test("non-streamed: the same items, in the same order, with the same caller links and statuses", async () => {
    const recorded = [await recordedResponse(1), await recordedResponse(2), await recordedResponse(3)];
    const code = recordedProgram(recorded[0] as OpenAI.Responses.Response);
    const finalText = (recorded[2] as OpenAI.Responses.Response).output_text || "Inventory is sufficient.";
    model.setScript([{ toolCalls: [{ name: "programmatic_tool_calling", input: { code } }] }, { text: finalText }]);
    const client = endpoint.client();
    let input: Item[] = [PROMPT];
    const ours: OpenAI.Responses.Response[] = [];
    for (let turn = 0; turn < 3; turn++) {
      const upstreamCalls = model.requests.length;
      const response = await client.responses.create({ model: MODEL, store: false, tools: INVENTORY_TOOLS, input });
      ours.push(response);
      const reference = recorded[turn] as OpenAI.Responses.Response;
      assert.deepEqual(itemShape(response.output), itemShape(reference.output), `turn ${turn + 1}`);
      assert.equal(response.status, "completed");
      assert.equal((response as { store?: unknown }).store, false);
      // Every field of the recorded response but OpenAI's billing and hosted-tool usage.
      const missing = Object.keys(reference).filter(
        (key) => !(key in response) && key !== "billing" && key !== "tool_usage",
      );
      assert.deepEqual(missing, []);
      // Turn 2 resumed the paused program without the model, as the recording's zero usage shows.
      if (turn === 1) {
        assert.equal(model.requests.length, upstreamCalls);
        assert.equal(response.usage?.total_tokens, 0);
      }
      input = [...input, ...(response.output as Item[]), ...answers(response.output)];
    }
    const [first, second, third] = ours as [
      OpenAI.Responses.Response,
      OpenAI.Responses.Response,
      OpenAI.Responses.Response,
    ];
    const program = first.output[0];
    assert.ok(program?.type === "program");
    assert.match(program.id, /^cm_[0-9a-f]{48}$/);
    assert.match(program.call_id, /^call_/);
    assert.equal(program.code, code);
    assert.match(program.fingerprint, /^ptc1\.\d+\./);
    assert.deepEqual(callerIds([...first.output, ...second.output]), [program.call_id, program.call_id]);
    const programOutput = third.output[0];
    assert.ok(programOutput?.type === "program_output");
    assert.match(programOutput.id, /^cmo_/);
    assert.equal(programOutput.call_id, program.call_id);
    const recordedOutput = (recorded[2] as OpenAI.Responses.Response).output[0];
    assert.ok(recordedOutput?.type === "program_output");
    assert.equal(programOutput.result, recordedOutput.result);
    assert.equal(third.output_text, finalText);
    // The upstream saw the program as a call of its tool and the program's result, never the raw tool results.
    const seen = conversationOf(model.requests.at(-1) as never);
    assert.deepEqual(
      seen.calls.map((call) => call.name),
      ["programmatic_tool_calling"],
    );
    assert.deepEqual(
      seen.results.map((result) => result.content),
      [recordedOutput.result],
    );
  });

  test("streamed: the recorded event sequence, turn by turn", async () => {
    const recordedTurns = [await recordedEvents(1), await recordedEvents(2), await recordedEvents(3)];
    const done = recordedTurns[0]?.find(
      (event) => event.type === "response.output_item.done" && event.item.type === "program",
    );
    assert.ok(done?.type === "response.output_item.done" && done.item.type === "program");
    const code = done.item.code;
    model.setScript([
      { toolCalls: [{ name: "programmatic_tool_calling", input: { code } }] },
      { text: "Inventory is sufficient for `sku_123`: **42 units available** versus **31 units requested**." },
    ]);
    const client = endpoint.client();
    let input: Item[] = [PROMPT];
    const results: string[] = [];
    for (const [turn, recorded] of recordedTurns.entries()) {
      const stream = client.responses.stream({ model: MODEL, store: false, tools: INVENTORY_TOOLS, input });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const response = await stream.finalResponse();
      assert.deepEqual(eventShape(events), eventShape(recorded), `turn ${turn + 1}`);
      assert.deepEqual(
        events.map((event) => event.sequence_number),
        events.map((_, index) => index),
      );
      // As recorded: the program is added with empty code and done whole; program_output added with an empty result.
      for (const event of events) {
        if (event.type === "response.output_item.added" && event.item.type === "program")
          assert.equal(event.item.code, "");
        if (event.type === "response.output_item.added" && event.item.type === "program_output") {
          assert.equal(event.item.result, "");
        }
        if (event.type === "response.output_item.done" && event.item.type === "program_output")
          results.push(event.item.result);
      }
      const completed = events.at(-1);
      assert.ok(completed?.type === "response.completed");
      assert.deepEqual(itemShape(response.output), itemShape(completed.response.output));
      input = [...input, ...(response.output as Item[]), ...answers(response.output)];
    }
    const recordedResult = recordedTurns[2]?.find(
      (event) => event.type === "response.output_item.done" && event.item.type === "program_output",
    );
    assert.ok(recordedResult?.type === "response.output_item.done" && recordedResult.item.type === "program_output");
    assert.deepEqual(JSON.parse(results[0] ?? ""), JSON.parse(recordedResult.item.result));
  });
});
