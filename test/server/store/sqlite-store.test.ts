import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, it } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { CREATE_SCHEMA_TABLE, MIGRATIONS } from "../../../src/server/store/sql-schema.js";
import { openSqliteStore } from "../../../src/server/store/sqlite-store.js";
import { responseConformance } from "./response-conformance.js";
import { type StoreBackend, storeConformance } from "./store-conformance.js";

const dir = mkdtempSync(join(tmpdir(), "ptc-sqlite-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const backend: StoreBackend = {
  durable: true,
  // A file per location; each `open` is another connection to it, as another process on the host would have.
  fresh: async () => {
    const path = join(dir, `data-${++files}`, "ptc.sqlite");
    return (options) => openSqliteStore(path, options);
  },
};
storeConformance("sqlite", backend);
responseConformance("sqlite", backend);

it("opens the file in WAL mode and records the schema version", async () => {
  const path = join(dir, "wal", "ptc.sqlite");
  const store = await openSqliteStore(path);
  await store.close();
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  assert.deepEqual(db.prepare("SELECT version FROM ptc_schema ORDER BY version").all(), [
    { version: 1 },
    { version: 2 },
    { version: 3 },
    { version: 4 },
  ]);
  db.close();
  // Opening again applies nothing twice.
  await (await openSqliteStore(path)).close();
});

/** A database file as a store of schema `version` left it, open for the test to add rows of that version. */
async function databaseOfVersion(version: number): Promise<{ path: string; old: import("better-sqlite3").Database }> {
  const path = join(dir, `version-${version}`, "ptc.sqlite");
  mkdirSync(dirname(path), { recursive: true });
  const { default: Database } = await import("better-sqlite3");
  const old = new Database(path);
  old.exec(CREATE_SCHEMA_TABLE);
  for (const [index, statements] of MIGRATIONS.slice(0, version).entries()) {
    for (const statement of statements) old.exec(statement);
    old.prepare("INSERT INTO ptc_schema (version, applied_at) VALUES (?, 0)").run(index + 1);
  }
  return { path, old };
}

it("migrates a database of schema version 1 (before /v1/responses), keeping its rows", async () => {
  const { path, old } = await databaseOfVersion(1);
  old
    .prepare(
      `INSERT INTO ptc_containers (id, owner, status, epoch, seed, owner_node, created_at, last_used_at, expires_at)
       VALUES ('container_old', 'k', 'live', 1, 1, 'n', 0, 0, 0)`,
    )
    .run();
  old.close();
  const migrated = await openSqliteStore(path);
  assert.equal((await migrated.getContainer("container_old"))?.owner, "k");
  await migrated.saveResponse(
    { id: "resp_1", owner: "k", createdAt: Date.now(), conversation: [], response: { output: [] } },
    { maxResponsesPerKey: 10, maxResponseBytesPerKey: 10_000, responseRetentionMs: 60_000 },
  );
  assert.equal((await migrated.getResponse("resp_1"))?.owner, "k");
  await migrated.close();
});

it("migrates a database of schema version 3: each response's items become its own copies", async () => {
  const { path, old } = await databaseOfVersion(3);
  const item = { id: "msg_old", type: "message", role: "assistant", content: "kept" };
  old
    .prepare(
      "INSERT INTO ptc_responses (id, owner, created_at, conversation, response, bytes) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .run("resp_old", "k", Date.now(), "[]", JSON.stringify({ output: [item] }), 100);
  old
    .prepare("INSERT INTO ptc_response_items (id, response_id, item) VALUES (?, ?, ?)")
    .run(item.id, "resp_old", JSON.stringify(item));
  old.close();
  const migrated = await openSqliteStore(path);
  assert.deepEqual(await migrated.getResponseItem(item.id, "k"), item);
  assert.equal(await migrated.getResponseItem(item.id, "other"), undefined);
  assert.equal(await migrated.deleteResponse("resp_old", "k"), true);
  assert.equal(await migrated.getResponseItem(item.id, "k"), undefined);
  await migrated.close();
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
