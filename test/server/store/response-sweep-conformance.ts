import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { responseRecords } from "../../../src/server/openai/stored-responses.js";
import type { Store } from "../../../src/server/store/store.js";
import { DAY, kept, ROOMY, response } from "./response-fixtures.js";
import type { StoreBackend } from "./store-conformance.js";

const HOUR = 3_600_000;

/**
 * The retention sweep in batches, and a key's bounds under concurrent saves: the same on every backend
 * (on PostgreSQL, saves of one key from several connections at once).
 */
export function responseSweepConformance(name: string, backend: StoreBackend): void {
  describe(`${name} store: /v1/responses sweep and concurrent saves`, () => {
    async function open(): Promise<Store> {
      return (await backend.fresh())();
    }

    it("one sweep statement forgets at most its limit, every key's oldest expired first", async () => {
      const store = await open();
      // Oldest first: 5 s, 4 s, … past a day, alternating keys; one more of each key that has not expired.
      const expired = [5, 4, 3, 2, 1].map((n) => response(n % 2 === 0 ? "key-2" : "key-1", DAY + n * 1_000));
      const fresh = [response("key-1", 0), response("key-2", 0)];
      for (const r of [...expired, ...fresh]) await store.saveResponse(r, ROOMY);
      assert.equal(await store.pruneResponses(HOUR, 2), 2);
      assert.deepEqual(await kept(store, expired), [false, false, true, true, true]);
      assert.equal(await store.pruneResponses(HOUR, 2), 2);
      assert.deepEqual(await kept(store, expired), [false, false, false, false, true]);
      assert.equal(await store.pruneResponses(HOUR, 2), 1);
      assert.equal(await store.pruneResponses(HOUR, 2), 0);
      assert.deepEqual(await kept(store, fresh), [true, true]);
      await store.close();
    });

    it("a sweep forgets every expired response in batches, yielding between them; a second call joins it", async () => {
      const store = await open();
      const expired = [7, 6, 5, 4, 3, 2, 1].map((n) => response(`key-${n % 3}`, DAY + n * 1_000));
      const fresh = response("key-1", 0);
      for (const r of [...expired, fresh]) await store.saveResponse(r, ROOMY);
      // Each statement schedules an immediate: it has run by the next statement only if the sweep yielded.
      let ran = 0;
      let running = 0;
      const statements: Array<{ ranBefore: number; overlapping: boolean }> = [];
      const watched = new Proxy(store, {
        get(target, property) {
          if (property === "pruneResponses") {
            return async (retentionMs: number, limit: number) => {
              statements.push({ ranBefore: ran, overlapping: ++running > 1 });
              setImmediate(() => ran++);
              try {
                return await target.pruneResponses(retentionMs, limit);
              } finally {
                running--;
              }
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const records = responseRecords(watched, { storedResponseRetentionMs: HOUR, storedResponseSweepBatch: 2 });
      const [first, joined] = await Promise.all([records.prune(), records.prune()]);
      assert.equal(first, 7);
      assert.equal(joined, 7, "a call while a sweep runs joins it");
      assert.equal(statements.length, 4, "batches of 2, 2, 2, 1");
      statements.forEach(({ ranBefore, overlapping }, index) => {
        assert.ok(ranBefore >= index, `other work ran before statement ${index + 1}: ${JSON.stringify(statements)}`);
        assert.equal(overlapping, false);
      });
      assert.deepEqual(
        await kept(store, expired),
        expired.map(() => false),
      );
      assert.deepEqual(await kept(store, [fresh]), [true]);
      assert.equal(await records.prune(), 0, "the next sweep starts afresh");
      await store.close();
    });

    it("concurrent saves of one key keep exactly its count and its bytes", async () => {
      const store = await open();
      const counted = Array.from({ length: 24 }, (_, n) => response("key-1", 60_000 - n * 1_000));
      await Promise.all(counted.map((r) => store.saveResponse(r, { ...ROOMY, maxResponsesPerKey: 3 })));
      assert.equal((await kept(store, counted)).filter(Boolean).length, 3);
      // Each ~1,050 bytes: two fit in 2,500.
      const sized = Array.from({ length: 24 }, (_, n) => response("key-2", 60_000 - n * 1_000, [], "x".repeat(1_000)));
      await Promise.all(sized.map((r) => store.saveResponse(r, { ...ROOMY, maxResponseBytesPerKey: 2_500 })));
      assert.equal((await kept(store, sized)).filter(Boolean).length, 2);
      await store.close();
    });
  });
}
