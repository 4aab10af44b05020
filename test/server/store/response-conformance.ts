import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorCode } from "../../../src/protocol/errors.js";
import type { Store, StoredResponse, StoreOptions } from "../../../src/server/store/store.js";
import { DAY, id, kept, message, ROOMY, response } from "./response-fixtures.js";
import { responseSweepConformance } from "./response-sweep-conformance.js";
import { rejectsWith, type StoreBackend } from "./store-conformance.js";

/** `/v1/responses`' stored responses: the same rules, bounds and pruning on every backend. */
export function responseConformance(name: string, backend: StoreBackend): void {
  describe(`${name} store: /v1/responses records`, () => {
    async function open(options?: StoreOptions): Promise<{ store: Store; again: () => Promise<Store> }> {
      const location = await backend.fresh();
      return { store: await location(options), again: () => location(options) };
    }

    it("keeps responses and their items with ids, scoped by owner", async () => {
      const { store, again } = await open({ maxRecordedValueBytes: 4_096 });
      const respId = id("resp");
      const reply = message("hi");
      const saved: StoredResponse = {
        id: respId,
        owner: "key-1",
        createdAt: 1_700_000_000_000,
        conversation: [
          { type: "message", role: "user", content: "hello" },
          { type: "item_with_id", id: "in_1" },
        ],
        response: { id: respId, object: "response", output: [reply] },
      };
      await store.saveResponse(saved, { ...ROOMY, responseRetentionMs: 100 * 365 * DAY });
      assert.deepEqual(await store.getResponse(respId), saved);
      assert.equal(await store.getResponse("resp_unknown"), undefined);
      assert.deepEqual(await store.getResponseItem(reply.id, "key-1"), reply);
      assert.deepEqual(await store.getResponseItem("in_1", "key-1"), { type: "item_with_id", id: "in_1" });
      assert.equal(await store.getResponseItem("msg_unknown", "key-1"), undefined);
      assert.equal(await store.getResponseItem(reply.id, "key-2"), undefined, "another key's item is not found");
      // Another key's response carrying an item of the same id keeps its own copy, and takes nothing.
      const theirs = { ...reply, content: "theirs" };
      await store.saveResponse({ ...response("key-2", 0), conversation: [theirs] }, ROOMY);
      assert.deepEqual(await store.getResponseItem(reply.id, "key-1"), reply);
      assert.deepEqual(await store.getResponseItem(reply.id, "key-2"), theirs);
      await assert.rejects(store.saveResponse(saved, ROOMY), rejectsWith(ErrorCode.StoreConflict));
      const huge = { ...response("key-1", 0), conversation: ["x".repeat(5_000)] };
      await assert.rejects(store.saveResponse(huge, ROOMY), rejectsWith(ErrorCode.RecordedValueTooLarge));
      assert.equal(await store.getResponse(huge.id), undefined);
      if (backend.durable) {
        await store.close();
        const reopened = await again();
        assert.deepEqual(await reopened.getResponse(respId), saved);
        await reopened.close();
      } else await store.close();
    });

    it("forgets a key's oldest responses past its count, and no other key's", async () => {
      const { store } = await open();
      const bounds = { ...ROOMY, maxResponsesPerKey: 3 };
      const other = [response("key-2", 10_000), response("key-2", 9_000)];
      for (const r of other) await store.saveResponse(r, bounds);
      const items = [1, 2, 3, 4, 5].map((n) => message(`turn ${n}`));
      const mine = items.map((item, n) => response("key-1", 5_000 - n * 1_000, [item]));
      for (const r of mine) await store.saveResponse(r, bounds);
      assert.deepEqual(await kept(store, mine), [false, false, true, true, true]);
      assert.deepEqual(await kept(store, other), [true, true]);
      // A forgotten response's items go with it.
      assert.equal(await store.getResponseItem(items[0]?.id ?? "", "key-1"), undefined);
      assert.deepEqual(await store.getResponseItem(items[4]?.id ?? "", "key-1"), items[4]);
      await store.close();
    });

    it("keeps an item its key's later response carries when the first one is forgotten", async () => {
      const { store } = await open();
      const bounds = { ...ROOMY, maxResponsesPerKey: 1 };
      const item = message("remember me");
      const first = response("key-1", 2_000, [item]);
      await store.saveResponse(first, bounds);
      // The next turn's conversation carries the item: that response has its own copy.
      const next = { ...response("key-1", 1_000), conversation: [item] };
      await store.saveResponse(next, bounds);
      assert.deepEqual(await kept(store, [first, next]), [false, true]);
      assert.deepEqual(await store.getResponseItem(item.id, "key-1"), item);
      await store.close();
    });

    it("deleting a response leaves the items an older response of the key also holds", async () => {
      const { store } = await open();
      const item = message("said once, carried on");
      const first = response("key-1", 2_000, [item]);
      const next = { ...response("key-1", 1_000), conversation: [item] };
      for (const r of [first, next]) await store.saveResponse(r, ROOMY);
      assert.equal(await store.deleteResponse(next.id, "key-1"), true);
      assert.deepEqual(await store.getResponse(first.id), first);
      assert.deepEqual(await store.getResponseItem(item.id, "key-1"), item);
      assert.equal(await store.deleteResponse(first.id, "key-1"), true);
      assert.equal(await store.getResponseItem(item.id, "key-1"), undefined, "the last copy goes with its response");
      await store.close();
    });

    it("forgets a key's oldest past its bytes, and refuses one response over them alone", async () => {
      const { store } = await open();
      // Each response is ~1,050 bytes (its 1,000-character conversation and its JSON): two fit in 2,500.
      const bounds = { ...ROOMY, maxResponseBytesPerKey: 2_500 };
      const mine = [3, 2, 1].map((n) => response("key-1", n * 1_000, [], "x".repeat(1_000)));
      for (const r of mine) await store.saveResponse(r, bounds);
      assert.deepEqual(await kept(store, mine), [false, true, true]);
      const alone = response("key-1", 0, [], "y".repeat(3_000));
      await assert.rejects(store.saveResponse(alone, bounds), rejectsWith(ErrorCode.ResponseStoreQuotaExceeded));
      assert.equal(await store.getResponse(alone.id), undefined);
      assert.deepEqual(await kept(store, mine), [false, true, true], "a refused save prunes nothing");
      await store.close();
    });

    it("forgets responses past the retention: the key's on its next save, every key's in the sweep", async () => {
      const { store } = await open();
      const old = response("key-1", 2 * DAY);
      const recent = response("key-1", 3_600_000);
      const otherOld = response("key-2", 2 * DAY);
      for (const r of [old, recent, otherOld]) await store.saveResponse(r, ROOMY);
      const now = response("key-1", 0);
      await store.saveResponse(now, { ...ROOMY, responseRetentionMs: DAY });
      assert.deepEqual(await kept(store, [old, recent, otherOld, now]), [false, true, true, true]);
      assert.equal(await store.pruneResponses(1_800_000, 100), 2);
      assert.deepEqual(await kept(store, [recent, otherOld, now]), [false, false, true]);
      assert.equal(await store.pruneResponses(1_800_000, 100), 0);
      await store.close();
    });

    it("deletes a response of its owner only, with its items", async () => {
      const { store } = await open();
      const item = message("bye");
      const r = response("key-1", 0, [item]);
      await store.saveResponse(r, ROOMY);
      assert.equal(await store.deleteResponse(r.id, "key-2"), false);
      assert.ok(await store.getResponse(r.id));
      assert.equal(await store.deleteResponse(r.id, "key-1"), true);
      assert.equal(await store.getResponse(r.id), undefined);
      assert.equal(await store.getResponseItem(item.id, "key-1"), undefined);
      assert.equal(await store.deleteResponse(r.id, "key-1"), false);
      assert.equal(await store.deleteResponse("resp_unknown", "key-1"), false);
      await store.close();
    });
  });
  responseSweepConformance(name, backend);
}
