import assert from "node:assert/strict";
import { it } from "node:test";
import { MemoryStore } from "../../../src/server/store/memory-store.js";
import { responseConformance } from "./response-conformance.js";
import { type StoreBackend, storeConformance } from "./store-conformance.js";

const backend: StoreBackend = {
  durable: false,
  // One store per location: a second `open` is the same process's store, as `--store memory` has.
  fresh: async () => {
    let store: MemoryStore | undefined;
    return async (options) => {
      store ??= new MemoryStore(options);
      return store;
    };
  },
};
storeConformance("memory", backend);
responseConformance("memory", backend);

it("reads time from its clock, so expiry can be tested without waiting", async () => {
  let now = 1_000;
  const store = new MemoryStore({ now: () => now });
  const c = await store.createContainer({
    id: "container_t",
    owner: undefined,
    seed: 1,
    ownerNode: "n",
    idleTimeoutMs: 500,
  });
  assert.equal(c.expiresAt, 1_500);
  now = 1_499;
  assert.deepEqual(await store.sweepExpired(), []);
  now = 1_500;
  assert.deepEqual(
    (await store.sweepExpired()).map((x) => [x.id, x.endedAt]),
    [["container_t", 1_500]],
  );
});

it("hands out copies: changing a returned record changes nothing stored", async () => {
  const store = new MemoryStore();
  const c = await store.createContainer({ id: "container_c", owner: "o", seed: 1, ownerNode: "n", idleTimeoutMs: 500 });
  (c as { epoch: number }).epoch = 99;
  assert.equal((await store.getContainer("container_c"))?.epoch, 1);
});
