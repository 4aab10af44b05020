import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { openSqliteStore } from "../../../src/server/store/sqlite-store.js";
import { storeConformance } from "./store-conformance.js";

const dir = mkdtempSync(join(tmpdir(), "ptc-sqlite-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

storeConformance("sqlite", {
  durable: true,
  // A file per location; each `open` is another connection to it, as another process on the host would have.
  fresh: async () => {
    const path = join(dir, `data-${++files}`, "ptc.sqlite");
    return (options) => openSqliteStore(path, options);
  },
});

it("opens the file in WAL mode and records the schema version", async () => {
  const path = join(dir, "wal", "ptc.sqlite");
  const store = await openSqliteStore(path);
  await store.close();
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  assert.deepEqual(db.prepare("SELECT version FROM ptc_schema").all(), [{ version: 1 }]);
  db.close();
  // Opening again applies nothing twice.
  await (await openSqliteStore(path)).close();
});

it("is store_unavailable where the file cannot be opened, and once closed", async () => {
  const blocker = join(dir, "not-a-directory");
  writeFileSync(blocker, "");
  await assert.rejects(openSqliteStore(join(blocker, "ptc.sqlite")), (error: unknown) =>
    PtcError.is(error, ErrorCode.StoreUnavailable),
  );
  const store = await openSqliteStore(join(dir, "closed", "ptc.sqlite"));
  await store.close();
  await assert.rejects(store.getContainer("container_x"), (error: unknown) =>
    PtcError.is(error, ErrorCode.StoreUnavailable),
  );
});
