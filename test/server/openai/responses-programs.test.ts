import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type OpenAI from "openai-v7";
import { APIError } from "openai-v7";
import type { ToolDefinition } from "../../../src/protocol/tool.js";
import { createAdmissionController } from "../../../src/server/admission.js";
import { testEngine } from "../../helpers/engine.js";
import {
  INVENTORY_TOOLS,
  itemShape,
  responsesForFile,
  startResponsesEndpoint,
} from "../../helpers/responses-endpoint.js";
import { conversationOf } from "../../helpers/scripted-model-server.js";

const MODEL = "gpt-5.6-sol";
type Item = OpenAI.Responses.ResponseInputItem;
type Output = OpenAI.Responses.ResponseOutputItem;

/** A tool the server runs itself (a config source): programs call it without the client. */
const serverClock: ToolDefinition = {
  name: "serverClock",
  description: "The server's fixed clock.",
  inputSchema: { type: "object", properties: {} },
  outputSchema: { type: "object", properties: { now: { type: "string" } }, required: ["now"] },
  allowedCallers: ["code_execution"],
  handler: () => ({ now: "2026-12-06T12:00:00Z" }),
};
const NOTES: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "readNote",
  description: "A note's text (no output schema: a string).",
  parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
  strict: false,
  allowed_callers: ["programmatic", "direct"],
};
const TOOLS = [...INVENTORY_TOOLS, NOTES];

const engine = testEngine({ pool: { size: 2 }, tools: [serverClock] });
const { model, endpoint } = await responsesForFile(engine, "openai", { serverTools: [serverClock] });
// One slot, no queue: a paused program holds it, and the next program is refused as the server is overloaded.
const full = await startResponsesEndpoint(engine, model, "openai", {
  admission: createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 0, retryAfterSeconds: 3 }),
});
after(() => full.close());

function program(code: string) {
  return { toolCalls: [{ name: "programmatic_tool_calling", input: { code } }] };
}

function calls(output: readonly Output[]): OpenAI.Responses.ResponseFunctionToolCall[] {
  return output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === "function_call");
}

async function turn(input: Item[]): Promise<OpenAI.Responses.Response> {
  return endpoint.client().responses.create({ model: MODEL, store: false, tools: TOOLS, input });
}

function answered(
  output: readonly Output[],
  answer: (call: OpenAI.Responses.ResponseFunctionToolCall) => string,
): Item[] {
  return calls(output).map((call) => ({
    type: "function_call_output",
    call_id: call.call_id,
    output: answer(call),
    ...(call.caller ? { caller: call.caller } : {}),
  }));
}

describe("/v1/responses programs", () => {
  test("Promise.all: every call in one response; the answers resume the program once", async () => {
    model.setScript([
      program(`const [a, b, c] = await Promise.all(["a", "b", "c"].map((sku) => tools.getInventory({ sku })));
text(String(a.availableUnits + b.availableUnits + c.availableUnits));`),
      { text: "Total: 6." },
    ]);
    const input: Item[] = [{ role: "user", content: "Total stock of a, b, c?" }];
    const first = await turn(input);
    assert.deepEqual(itemShape(first.output), [
      "program",
      "function_call:getInventory:in_progress:program",
      "function_call:getInventory:in_progress:program",
      "function_call:getInventory:in_progress:program",
    ]);
    assert.deepEqual(
      calls(first.output).map((call) => JSON.parse(call.arguments)),
      [{ sku: "a" }, { sku: "b" }, { sku: "c" }],
    );
    const units: Record<string, number> = { a: 1, b: 2, c: 3 };
    const reply = answered(first.output, (call) => {
      const { sku } = JSON.parse(call.arguments) as { sku: string };
      return JSON.stringify({ sku, availableUnits: units[sku] });
    });
    const second = await turn([...input, ...(first.output as Item[]), ...reply]);
    assert.deepEqual(itemShape(second.output), ["program_output:completed", "message:final_answer"]);
    const result = second.output[0];
    assert.ok(result?.type === "program_output");
    assert.equal(result.result, "6");
  });

  test("a program that throws ends incomplete, with the error for the model to act on", async () => {
    model.setScript([
      program(`const x = await tools.serverClock({});\nthrow new Error("no stock data for " + x.now);`),
      { text: "It failed." },
    ]);
    const response = await turn([{ role: "user", content: "Go." }]);
    assert.deepEqual(itemShape(response.output), ["program", "program_output:incomplete", "message:final_answer"]);
    const result = response.output[1];
    assert.ok(result?.type === "program_output");
    assert.match(result.result, /Program failed.*no stock data for 2026-12-06T12:00:00Z/s);
    // The upstream got the failure as an error result of its program call.
    const seen = conversationOf(model.requests.at(-1) as never);
    assert.match(seen.results[0]?.content ?? "", /no stock data/);
  });

  test("outputs: JSON for tools with output_schema (invalid JSON is a ToolError), strings otherwise, parts joined", async () => {
    model.setScript([
      program(`let bad;
try { await tools.getDemand({ sku: "x" }); } catch (error) { bad = error.code + ": " + error.message; }
const note = await tools.readNote({ id: "n1" });
text(JSON.stringify({ bad, note, type: typeof note }));`),
      { text: "Done." },
    ]);
    const input: Item[] = [{ role: "user", content: "Go." }];
    const first = await turn(input);
    const [demand] = calls(first.output);
    assert.ok(demand);
    const second = await turn([
      ...input,
      ...(first.output as Item[]),
      { type: "function_call_output", call_id: demand.call_id, output: "not json", caller: demand.caller ?? null },
    ]);
    const [note] = calls(second.output);
    assert.equal(note?.name, "readNote");
    assert.ok(note);
    const third = await turn([
      ...input,
      ...(first.output as Item[]),
      { type: "function_call_output", call_id: demand.call_id, output: "not json", caller: demand.caller ?? null },
      ...(second.output as Item[]),
      {
        type: "function_call_output",
        call_id: note.call_id,
        output: [
          { type: "input_text", text: "line one" },
          { type: "input_text", text: "line two" },
        ],
        caller: note.caller ?? null,
      },
    ]);
    const result = third.output[0];
    assert.ok(result?.type === "program_output" && result.status === "completed", JSON.stringify(third.output));
    const parsed = JSON.parse(result.result) as { bad: string; note: string; type: string };
    assert.match(
      parsed.bad,
      /^invalid_tool_output: the output of getDemand is not the JSON its output_schema describes/,
    );
    assert.equal(parsed.note, "line one\nline two");
    assert.equal(parsed.type, "string");
  });

  test("a direct call and a program in one turn; server tools run in the program without the client", async () => {
    model.setScript([
      {
        toolCalls: [
          { name: "readNote", input: { id: "direct" } },
          { name: "programmatic_tool_calling", input: { code: `text((await tools.serverClock({})).now);` } },
        ],
      },
    ]);
    const response = await turn([{ role: "user", content: "Go." }]);
    assert.deepEqual(itemShape(response.output), [
      "function_call:readNote:completed:direct",
      "program",
      "program_output:completed",
    ]);
    const result = response.output[2];
    assert.ok(result?.type === "program_output");
    assert.equal(result.result, "2026-12-06T12:00:00Z");
  });

  test("a paused program holds a slot of the admission controller (503 with Retry-After) until it ends or is abandoned", async () => {
    const code = `text(JSON.stringify(await tools.getInventory({ sku: "a" })));`;
    model.setScript([program(code), program(code)]);
    const request = { model: MODEL, store: false, tools: TOOLS, input: "Go." } as const;
    const paused = await full.client().responses.create(request);
    assert.deepEqual(itemShape(paused.output), ["program", "function_call:getInventory:in_progress:program"]);
    await assert.rejects(full.client().responses.create(request), (error: unknown) => {
      assert.ok(error instanceof APIError, String(error));
      assert.equal(error.status, 503, JSON.stringify(error.error));
      assert.equal((error.error as { code?: string }).code, "overloaded");
      assert.equal(error.headers?.get("retry-after"), "3");
      return true;
    });
    // The client moves on without the program's calls: the paused program is cancelled and its slot freed.
    model.setScript((_request, index) => (index === 0 ? { text: "Fine." } : program(code)));
    const programItem = paused.output[0] as Item;
    await full.client().responses.create({
      ...request,
      input: [{ role: "user", content: "Go." }, programItem, { role: "user", content: "Never mind." }],
    });
    let again: OpenAI.Responses.Response | undefined;
    // The slot comes back once the cancelled program's sandbox is gone: a moment after that response.
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await full
        .client()
        .responses.create(request)
        .catch(async (error: unknown) => {
          if (!(error instanceof APIError) || error.status !== 503) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
    }
    assert.ok(again);
    assert.deepEqual(itemShape(again.output), ["program", "function_call:getInventory:in_progress:program"]);
  });
});
