import assert from "node:assert/strict";
import { it } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { openPostgresStore } from "../../../src/server/store/postgres-store.js";
import { deadUrl } from "../../helpers/loopback.js";
import { cuttablePostgres, freshPostgresDatabase, postgresAvailable } from "../../helpers/postgres.js";
import { responseConformance } from "./response-conformance.js";
import { type StoreBackend, storeConformance } from "./store-conformance.js";

const skip = postgresAvailable() ? false : "PostgreSQL is not installed and PTC_TEST_POSTGRES_URL is unset";

if (skip) it("PostgreSQL store", { skip }, () => {});
else {
  const backend: StoreBackend = {
    durable: true,
    // A fresh database per location; each `open` is another pool on it, as another node would have.
    fresh: async () => {
      const url = await freshPostgresDatabase();
      return (options) => openPostgresStore(url, options);
    },
  };
  storeConformance("postgres", backend);
  responseConformance("postgres", backend);

  it("creates the schema once when several nodes open a new database at the same time", async () => {
    const url = await freshPostgresDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
    const container = await stores[0]?.createContainer({
      id: "container_m",
      owner: undefined,
      seed: 1,
      ownerNode: "a",
      idleTimeoutMs: 1,
    });
    assert.equal((await stores[2]?.getContainer("container_m"))?.createdAt, container?.createdAt);
    await Promise.all(stores.map((s) => s.close()));
  });

  it("is store_unavailable when nothing listens at the address", async () => {
    const url = new URL(await deadUrl());
    const started = Date.now();
    await assert.rejects(openPostgresStore(`postgres://postgres@127.0.0.1:${url.port}/postgres`), (error: unknown) =>
      PtcError.is(error, ErrorCode.StoreUnavailable),
    );
    assert.ok(Date.now() - started < 5_000, "a refused connection fails at once, not after a timeout");
  });

  it("is store_unavailable when the database goes away mid-use, for reads and fenced writes", async () => {
    const relay = await cuttablePostgres(await freshPostgresDatabase());
    const store = await openPostgresStore(relay.url, { connectTimeoutMs: 1_000 });
    const c = await store.createContainer({
      id: "container_cut",
      owner: undefined,
      seed: 1,
      ownerNode: "a",
      idleTimeoutMs: 60_000,
    });
    await relay.cut();
    const unavailable = (error: unknown) => PtcError.is(error, ErrorCode.StoreUnavailable);
    await assert.rejects(store.getContainer(c.id), unavailable);
    await assert.rejects(store.touchContainer({ containerId: c.id, epoch: 1 }, 1_000), unavailable);
    await assert.rejects(store.claimContainer(c.id, "b", 1), unavailable);
    await store.close();
  });
}
