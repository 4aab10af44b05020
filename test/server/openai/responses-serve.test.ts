import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import OpenAI from "openai-v7";
import { kill9 } from "../../helpers/durable-serve.js";
import { assertStatus, INVENTORY_TOOLS, itemShape } from "../../helpers/responses-endpoint.js";
import { startScriptedModelServer } from "../../helpers/scripted-model-server.js";
import { type ServingCli, startServingCli } from "../../helpers/server.js";

const KEY = "sk-ptc-serve-responses-key";
const MODEL = "gpt-5.6-sol";
const CODE = `const inventory = await tools.getInventory({ sku: "sku_123" });
const demand = await tools.getDemand({ sku: "sku_123" });
text(JSON.stringify({ sufficient: inventory.availableUnits >= demand.requestedUnits }));`;

const dir = mkdtempSync(join(tmpdir(), "ptc-serve-responses-"));
const model = await startScriptedModelServer();
const nodes: ServingCli[] = [];
after(async () => {
  for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) await kill9(node);
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `ptc serve` on the scripted model, its SQLite store and program secret in one data directory. */
async function serve(): Promise<{ node: ServingCli; client: OpenAI }> {
  const config = join(dir, "ptc.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: {
        upstream: { provider: "anthropic", baseURL: model.url, apiKey: "upstream-key" },
        maxStoredResponsesPerKey: 50,
        maxStoredResponseBytesPerKey: 4_194_304,
        storedResponseRetentionMs: 86_400_000,
      },
    }),
  );
  const node = await startServingCli(["serve", "--port", "0", "--config", config], {
    env: { ...process.env, PTC_API_KEYS: KEY, PTC_DATA_DIR: join(dir, "data") },
  });
  nodes.push(node);
  return { node, client: new OpenAI({ baseURL: `${node.url}/v1`, apiKey: KEY, maxRetries: 0 }) };
}

type Item = OpenAI.Responses.ResponseInputItem;
function answers(output: readonly OpenAI.Responses.ResponseOutputItem[]): Item[] {
  return output.flatMap((item): Item[] =>
    item.type === "function_call" && item.caller?.type === "program"
      ? [
          {
            type: "function_call_output",
            call_id: item.call_id,
            output: JSON.stringify(item.name === "getInventory" ? { availableUnits: 42 } : { requestedUnits: 31 }),
            caller: item.caller,
          },
        ]
      : [],
  );
}

test("ptc serve: a paused program survives kill -9 (store: true in SQLite, the secret in the data directory)", async () => {
  model.setScript([{ toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] }, { text: "Enough." }]);
  const first = await serve();
  const input: Item[] = [{ role: "user", content: "Enough stock of sku_123?" }];
  const one = await first.client.responses.create({ model: MODEL, tools: INVENTORY_TOOLS, input });
  assert.deepEqual(itemShape(one.output), ["program", "function_call:getInventory:in_progress:program"]);
  await kill9(first.node);

  const second = await serve();
  // store: true: the previous response is in the store; the program is re-run from it, signed by the same secret.
  const two = await second.client.responses.create({
    model: MODEL,
    tools: INVENTORY_TOOLS,
    previous_response_id: one.id,
    input: answers(one.output),
  });
  assert.deepEqual(itemShape(two.output), ["function_call:getDemand:in_progress:program"]);
  // The stored response outlived the process too: retrieved, listed and deleted through the SDK.
  assert.deepEqual((await second.client.responses.retrieve(one.id)).output, one.output);
  const items = await second.client.responses.inputItems.list(two.id, { order: "asc" });
  assert.deepEqual(
    items.data.map((item) => item.type),
    ["message", "program", "function_call", "function_call_output"],
  );
  await second.client.responses.delete(two.id);
  await assert.rejects(second.client.responses.retrieve(two.id), (error: unknown) => {
    assertStatus(error, 404);
    return true;
  });
  // store: false: the client sends every item back.
  const three = await second.client.responses.create({
    model: MODEL,
    store: false,
    tools: INVENTORY_TOOLS,
    input: [
      ...input,
      ...(one.output as Item[]),
      ...answers(one.output),
      ...(two.output as Item[]),
      ...answers(two.output),
    ],
  });
  assert.deepEqual(itemShape(three.output), ["program_output:completed", "message:final_answer"]);
  const result = three.output[0];
  assert.ok(result?.type === "program_output");
  assert.deepEqual(JSON.parse(result.result), { sufficient: true });
});
