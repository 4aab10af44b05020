import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { openSqliteStore } from "../../../src/server/store/sqlite-store.js";
import type { Store } from "../../../src/server/store/store.js";
import { testEngine, until } from "../../helpers/engine.js";
import { INVENTORY_TOOLS, itemShape, KEY_B } from "../../helpers/responses-endpoint.js";
import { type Item, MODEL, refusal, responsesServers } from "../../helpers/responses-servers.js";

const dir = mkdtempSync(join(tmpdir(), "ptc-responses-stored-"));
const engine = testEngine({ pool: { size: 1 } });
const { model, start } = await responsesServers();
const sqlite = await openSqliteStore(join(dir, "ptc.sqlite"));
after(async () => {
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

function endpoint(options: Parameters<typeof start>[1] = {}) {
  return start(engine, options);
}

const backends: Array<[string, () => Store | undefined]> = [
  ["in memory", () => undefined],
  ["in SQLite", () => sqlite],
];

for (const [where, store] of backends) {
  describe(`stored responses ${where}: retrieve, input_items, delete with the official SDK`, async () => {
    test("a store: true response is retrieved as created, its input items listed and paged, then deleted", async () => {
      const backend = store();
      const server = await endpoint(backend ? { store: backend } : {});
      const client = server.client();
      model.setScript([{ text: "Hello there." }, { text: "Again." }]);
      const first = await client.responses.create({ model: MODEL, input: "hi" });
      const second = await client.responses.create({
        model: MODEL,
        input: "once more",
        previous_response_id: first.id,
      });

      const retrieved = await client.responses.retrieve(second.id);
      assert.equal(retrieved.id, second.id);
      assert.equal(retrieved.output_text, "Again.");
      assert.equal(retrieved.previous_response_id, first.id);
      assert.deepEqual(retrieved.output, second.output);

      // The items the response was generated from: the first turn's input and output, then its own input.
      const page = await client.responses.inputItems.list(second.id, { order: "asc" });
      const shown = page.data.map((item) =>
        item.type === "message"
          ? `${item.role}:${item.content.map((p) => ("text" in p ? p.text : "")).join("")}`
          : item.type,
      );
      assert.deepEqual(shown, ["user:hi", "assistant:Hello there.", "user:once more"]);
      assert.equal(page.has_more, false);
      assert.equal(page.data[1]?.id, first.output[0]?.id, "an output item keeps its id");
      // OpenAI's default order is newest first; the SDK pages with `after` until has_more is false.
      const newestFirst: string[] = [];
      for await (const item of client.responses.inputItems.list(second.id, { limit: 1 })) newestFirst.push(item.id);
      assert.deepEqual(newestFirst, page.data.map((item) => item.id).reverse());
      const firstPage = await client.responses.inputItems.list(second.id, { limit: 2, order: "asc" });
      assert.equal(firstPage.has_more, true);
      assert.deepEqual(
        firstPage.data.map((item) => item.id),
        page.data.slice(0, 2).map((item) => item.id),
      );

      // Another key sees none of it, exactly as an unknown id.
      const other = server.client(KEY_B);
      await refusal(other.responses.retrieve(second.id), 404, "response_not_found");
      await refusal(other.responses.inputItems.list(second.id), 404, "response_not_found");
      await refusal(other.responses.delete(second.id), 404, "response_not_found");
      assert.equal((await client.responses.retrieve(second.id)).id, second.id);

      await client.responses.delete(first.id);
      const gone = await refusal(client.responses.retrieve(first.id), 404, "response_not_found");
      assert.match(
        gone,
        new RegExp(`^Response with id '${first.id}' not found\\. Only store: true responses are kept`),
      );
      await refusal(client.responses.delete(first.id), 404, "response_not_found");
      await refusal(client.responses.inputItems.list(first.id), 404, "response_not_found");
      // A continuation of the deleted response is OpenAI's 404, not a crash.
      await refusal(
        client.responses.create({ model: MODEL, input: "and?", previous_response_id: first.id }),
        404,
        "previous_response_not_found",
      );
      // The response that continued it keeps its own copy of the conversation.
      assert.equal((await client.responses.inputItems.list(second.id)).data.length, 3);
    });

    test("deleting the response that continued another leaves that one whole: retrieve, input_items, item_reference", async () => {
      const backend = store();
      const server = await endpoint(backend ? { store: backend } : {});
      const client = server.client();
      model.setScript([{ text: "First answer." }, { text: "Second answer." }, { text: "By reference." }]);
      const first = await client.responses.create({ model: MODEL, input: "hi" });
      const said = first.output[0];
      assert.ok(said?.type === "message");
      // The second carries the first's conversation and output, `said` among them.
      const second = await client.responses.create({ model: MODEL, input: "more", previous_response_id: first.id });
      await client.responses.delete(second.id);
      assert.deepEqual((await client.responses.retrieve(first.id)).output, first.output);
      const listed = await client.responses.inputItems.list(first.id);
      assert.deepEqual(
        listed.data.map((item) => item.type === "message" && item.role),
        ["user"],
      );
      const reference: Item[] = [
        { type: "item_reference", id: said.id },
        { role: "user", content: "and?" },
      ];
      const referenced = await client.responses.create({ model: MODEL, input: reference, store: false });
      assert.equal(referenced.output_text, "By reference.");
      assert.match(JSON.stringify(model.requests.at(-1)?.body), /First answer\./);
      // Its last holder deleted, the item is gone too.
      await client.responses.delete(first.id);
      await refusal(client.responses.create({ model: MODEL, input: reference }), 404, "item_not_found");
    });

    test("store: false responses and unknown ids are not found; bad list parameters are OpenAI's 400s", async () => {
      const backend = store();
      const server = await endpoint(backend ? { store: backend } : {});
      const client = server.client();
      model.setScript([{ text: "Not kept." }, { text: "Kept." }]);
      const unstored = await client.responses.create({ model: MODEL, input: "hi", store: false });
      await refusal(client.responses.retrieve(unstored.id), 404, "response_not_found");
      await refusal(client.responses.retrieve("resp_unknown"), 404, "response_not_found");
      const kept = await client.responses.create({ model: MODEL, input: "hi" });
      await refusal(client.responses.inputItems.list(kept.id, { limit: 0 }), 400, "integer_below_min_value");
      await refusal(client.responses.inputItems.list(kept.id, { limit: 101 }), 400, "integer_above_max_value");
      await refusal(client.responses.inputItems.list(kept.id, { after: "msg_unknown" }), 400, "invalid_value");
      const raw = await fetch(`${server.url}/v1/responses/${kept.id}/input_items?order=sideways`, {
        headers: { authorization: "Bearer sk-ptc-test-key-a" },
      });
      assert.equal(raw.status, 400);
      assert.equal(((await raw.json()) as { error: { param: string } }).error.param, "order");
      await refusal(client.responses.retrieve(kept.id, { stream: true }), 400, "unsupported_value");
      // Without a key: OpenAI's shape too.
      const anonymous = await fetch(`${server.url}/v1/responses/${kept.id}`);
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, "invalid_api_key");
    });

    test("past its count a key's oldest response is pruned: retrieving or continuing it is a clear 404", async () => {
      const backend = store();
      const server = await endpoint({ ...(backend ? { store: backend } : {}), maxStoredResponsesPerKey: 2 });
      const client = server.client();
      model.setScript([{ text: "one" }, { text: "other key" }, { text: "two" }, { text: "three" }]);
      const one = await client.responses.create({ model: MODEL, input: "1" });
      const otherKeys = await server.client(KEY_B).responses.create({ model: MODEL, input: "b" });
      await client.responses.create({ model: MODEL, input: "2" });
      const three = await client.responses.create({ model: MODEL, input: "3" });
      const message = await refusal(client.responses.retrieve(one.id), 404, "response_not_found");
      assert.match(message, /at most 2 responses/);
      const continued = await refusal(
        client.responses.create({ model: MODEL, input: "more", previous_response_id: one.id }),
        404,
        "previous_response_not_found",
      );
      assert.match(continued, /the oldest are removed first/);
      assert.equal((await client.responses.retrieve(three.id)).output_text, "three");
      assert.equal((await server.client(KEY_B).responses.retrieve(otherKeys.id)).output_text, "other key");
    });

    test("a response alone over its key's bytes is refused with response_store_quota_exceeded", async () => {
      const backend = store();
      const server = await endpoint({ ...(backend ? { store: backend } : {}), maxStoredResponseBytesPerKey: 500 });
      model.setScript([{ text: "x".repeat(600) }, { text: "small" }]);
      const message = await refusal(
        server.client().responses.create({ model: MODEL, input: "big" }),
        413,
        "response_store_quota_exceeded",
      );
      assert.match(message, /store: false/);
      const unstored = await server.client().responses.create({ model: MODEL, input: "big", store: false });
      assert.equal(unstored.output_text, "small");
    });
  });
}

const CODE = `const inventory = await tools.getInventory({ sku: "sku_123" });
text(JSON.stringify({ units: inventory.availableUnits }));`;

test("a paused program whose stored response was pruned: a clear 404, then continued with store: false", async () => {
  const server = await endpoint({ maxStoredResponsesPerKey: 1 });
  const client = server.client();
  model.setScript([
    { toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] },
    { text: "Unrelated." },
    { text: "42 units." },
  ]);
  const input: Item[] = [{ role: "user", content: "How many sku_123?" }];
  const paused = await client.responses.create({ model: MODEL, tools: INVENTORY_TOOLS, input });
  assert.deepEqual(itemShape(paused.output), ["program", "function_call:getInventory:in_progress:program"]);
  // The key's next stored response prunes the paused one (a bound of one).
  await client.responses.create({ model: MODEL, input: "something else" });
  const call = paused.output[1];
  assert.ok(call?.type === "function_call" && call.caller?.type === "program");
  const outputs: Item[] = [
    {
      type: "function_call_output",
      call_id: call.call_id,
      output: JSON.stringify({ availableUnits: 42 }),
      caller: call.caller,
    },
  ];
  const message = await refusal(
    client.responses.create({ model: MODEL, tools: INVENTORY_TOOLS, previous_response_id: paused.id, input: outputs }),
    404,
    "previous_response_not_found",
  );
  assert.match(message, /A program paused in it can still be continued with store: false/);
  // The client has the items: the program goes on.
  const done = await client.responses.create({
    model: MODEL,
    tools: INVENTORY_TOOLS,
    store: false,
    input: [...input, ...(paused.output as Item[]), ...outputs],
  });
  assert.deepEqual(itemShape(done.output), ["program_output:completed", "message:final_answer"]);
  const result = done.output[0];
  assert.ok(result?.type === "program_output");
  assert.deepEqual(JSON.parse(result.result), { units: 42 });
});

test("a paused program whose response is refused with 413 is ended at once, its container released", async () => {
  // Its pending call would otherwise hold the sandbox (and an admission slot) for ten minutes.
  const server = await endpoint({
    maxStoredResponseBytesPerKey: 1_000,
    executionLimits: { pendingToolTimeoutMs: 600_000 },
  });
  const before = new Set(engine.containers.ids());
  model.setScript([{ toolCalls: [{ name: "programmatic_tool_calling", input: { code: CODE } }] }]);
  const input: Item[] = [{ role: "user", content: `How many sku_123? ${"x".repeat(1_000)}` }];
  await refusal(
    server.client().responses.create({ model: MODEL, tools: INVENTORY_TOOLS, input }),
    413,
    "response_store_quota_exceeded",
  );
  await until(
    () => engine.containers.ids().every((id) => before.has(id)),
    "the refused response's program to end and its container to be released",
  );
});
