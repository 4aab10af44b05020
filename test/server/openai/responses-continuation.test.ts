import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type OpenAI from "openai-v7";
import type { Engine } from "../../../src/engine/engine.js";
import { testEngine } from "../../helpers/engine.js";
import { INVENTORY_TOOLS, itemShape, KEY_B, type ResponsesEndpoint } from "../../helpers/responses-endpoint.js";
import { type Item, MODEL, refusal, responsesServers } from "../../helpers/responses-servers.js";

type Output = OpenAI.Responses.ResponseOutputItem;
/** Math.random is seeded from the fingerprint: a re-run sees the same numbers, so it makes the same calls. */
const CODE = `const pick = ["sku_123", "sku_456"][Math.floor(Math.random() * 2)];
const inventory = await tools.getInventory({ sku: pick });
const demand = await tools.getDemand({ sku: pick });
text(JSON.stringify({ sku: pick, sufficient: inventory.availableUnits >= demand.requestedUnits }));`;
const PROMPT: Item = { role: "user", content: "Is there enough stock?" };

const { model, start } = await responsesServers();

/** A server on its own engine (the same program secret as every other): a restart, or another node. */
async function server(): Promise<{ endpoint: ResponsesEndpoint; engine: Engine }> {
  const engine = testEngine({ pool: { size: 1 } });
  return { endpoint: await start(engine), engine };
}

function answers(output: readonly Output[]): Item[] {
  return output.flatMap((item): Item[] => {
    if (item.type !== "function_call" || item.caller?.type !== "program") return [];
    const { sku } = JSON.parse(item.arguments) as { sku: string };
    const value = item.name === "getInventory" ? { sku, availableUnits: 42 } : { sku, requestedUnits: 31 };
    return [
      { type: "function_call_output", call_id: item.call_id, output: JSON.stringify(value), caller: item.caller },
    ];
  });
}

async function create(
  endpoint: ResponsesEndpoint,
  input: Item[],
  extra: Partial<OpenAI.Responses.ResponseCreateParamsNonStreaming> = {},
) {
  return endpoint.client().responses.create({ model: MODEL, store: false, tools: INVENTORY_TOOLS, input, ...extra });
}

describe("/v1/responses store: false continuation across a restart", () => {
  test("the program is re-run from the client's items on a new server, then completes", async () => {
    const first = await server();
    model.setScript([
      { toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] },
      { text: "Enough." },
    ]);
    const one = await create(first.endpoint, [PROMPT]);
    assert.deepEqual(itemShape(one.output), ["program", "function_call:getInventory:in_progress:program"]);
    // The first server goes away with its paused program.
    await first.endpoint.close();
    await first.engine.close();

    const second = await server();
    const input = [PROMPT, ...(one.output as Item[]), ...answers(one.output)];
    const two = await create(second.endpoint, input);
    assert.deepEqual(itemShape(two.output), ["function_call:getDemand:in_progress:program"]);
    const three = await create(second.endpoint, [...input, ...(two.output as Item[]), ...answers(two.output)]);
    assert.deepEqual(itemShape(three.output), ["program_output:completed", "message:final_answer"]);
    const result = three.output[0];
    assert.ok(result?.type === "program_output");
    const picked = JSON.parse(calls(one.output)[0]?.arguments ?? "{}") as { sku: string };
    assert.deepEqual(JSON.parse(result.result), { sku: picked.sku, sufficient: true });
  });

  test("a tampered program item is refused; a re-run that diverges from the items is a clear 400", async () => {
    const first = await server();
    model.setScript([{ toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] }]);
    const one = await create(first.endpoint, [PROMPT]);
    const programItem = one.output[0];
    assert.ok(programItem?.type === "program");
    const other = await server();
    const rest = [...(one.output.slice(1) as Item[]), ...answers(one.output)];
    for (const [tampered, code] of [
      [
        { ...programItem, code: `${programItem.code}\nawait tools.getDemand({ sku: "sku_999" });` },
        "program_fingerprint_invalid",
      ],
      [{ ...programItem, fingerprint: `${programItem.fingerprint.slice(0, -4)}AAAA` }, "program_fingerprint_invalid"],
      // Its calls then name a program the input does not hold.
      [{ ...programItem, call_id: "call_someoneelse" }, null],
    ] as const) {
      await refusal(create(other.endpoint, [PROMPT, tampered, ...rest]), 400, code ?? undefined);
    }
    // Another tool set: the same code would run against another API.
    await refusal(
      create(other.endpoint, [PROMPT, programItem, ...rest], {
        tools: [INVENTORY_TOOLS[0], INVENTORY_TOOLS[1]] as never,
      }),
      400,
    );
    // The recorded call altered (another sku): the re-run makes another call than the items say.
    const [call] = calls(one.output);
    assert.ok(call);
    const altered = { ...call, arguments: JSON.stringify({ sku: "sku_999" }) };
    const diverged = await refusal(
      create(other.endpoint, [PROMPT, programItem, altered, ...answers(one.output)]),
      400,
      "replay_diverged",
    );
    assert.match(diverged, /could not be continued/);
  });
});

function calls(output: readonly Output[]): OpenAI.Responses.ResponseFunctionToolCall[] {
  return output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === "function_call");
}

describe("/v1/responses store: true continuation", () => {
  test("previous_response_id carries the paused program; item_reference names stored items; another key gets 404", async () => {
    const { endpoint } = await server();
    model.setScript([
      { toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] },
      { text: "Enough." },
    ]);
    const client = endpoint.client();
    const one = await client.responses.create({ model: MODEL, tools: INVENTORY_TOOLS, input: [PROMPT] });
    // Only the outputs, with the previous response.
    const two = await client.responses.create({
      model: MODEL,
      tools: INVENTORY_TOOLS,
      previous_response_id: one.id,
      input: answers(one.output),
    });
    assert.deepEqual(itemShape(two.output), ["function_call:getDemand:in_progress:program"]);
    await refusal(
      endpoint.client(KEY_B).responses.create({
        model: MODEL,
        tools: INVENTORY_TOOLS,
        previous_response_id: two.id,
        input: answers(two.output),
      }),
      404,
      "previous_response_not_found",
    );
    // The items by reference (program, both calls), then the outputs.
    const references: Item[] = [...one.output, ...two.output].map((item) => ({
      type: "item_reference",
      id: (item as { id: string }).id,
    }));
    const three = await client.responses.create({
      model: MODEL,
      tools: INVENTORY_TOOLS,
      input: [PROMPT, ...references.slice(0, 2), ...answers(one.output), references[2] as Item, ...answers(two.output)],
    });
    assert.deepEqual(itemShape(three.output), ["program_output:completed", "message:final_answer"]);
  });
});
