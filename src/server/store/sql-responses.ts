import type { JsonValue } from "../../protocol/json-schema.js";
import { encodeResponse } from "./response-encoding.js";
import type { SqlDialect, SqlDriver, SqlExecutor } from "./sql-rows.js";
import type { StoredResponse, StoredResponseBounds } from "./store.js";
import { conflict } from "./store-values.js";

/**
 * `/v1/responses`' kept responses on a SQL database (schema versions 2 to 4), the same statements on SQLite
 * and PostgreSQL. Retention is measured on the database's clock (`dialect.nowMs`).
 */
export async function saveResponse(
  db: SqlDriver,
  dialect: SqlDialect,
  maxBytes: number,
  response: StoredResponse,
  bounds: StoredResponseBounds,
): Promise<void> {
  const encoded = encodeResponse(response, maxBytes, bounds);
  await db.transaction(async (tx) => {
    // One save of the key at a time from here to commit: the prune below then sees every other save's row.
    if (dialect.responseOwnerLock) await tx.query(dialect.responseOwnerLock, [response.owner]);
    const rows = await tx.query(
      `INSERT INTO ptc_responses (id, owner, created_at, conversation, response, bytes) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [response.id, response.owner, response.createdAt, encoded.conversation, encoded.response, encoded.bytes],
    );
    if (rows.length === 0) throw conflict(`response ${response.id} already exists`);
    for (const [id, item] of encoded.items) {
      // Each response keeps its own copy (its bytes already count it): an item the next turn carries again
      // is then still found when either response is deleted or pruned, and no key's copy is another's.
      await tx.query(
        `INSERT INTO ptc_response_item_copies (response_id, id, owner, created_at, item) VALUES ($1, $2, $3, $4, $5)`,
        [response.id, id, response.owner, response.createdAt, item],
      );
    }
    await pruneOwner(tx, dialect.nowMs, response, encoded.bytes, bounds);
  });
}

/** Rows of a key's oldest responses read at once while pruning: a save at the bound forgets one or a few. */
const PRUNE_BATCH = 100;

/**
 * Forgets the owner's responses other than `saved` past `bounds`: those older than the retention, then the
 * oldest (by `created_at`, then id) while the key is over its count or bytes. This leaves exactly what
 * `responsesToForget`'s newest-first walk keeps (the memory store's rule). The totals are one index-only read
 * of (owner, created_at, id, bytes), and only the rows to forget are read past it. Measured on SQLite with
 * 2 KiB responses (a loaded 2-core machine): the totals read takes ~5 ms at 10,000 kept, a whole save 6 ms
 * at 1,000 kept and 15 ms at 10,000; one window over the key's rows, reading every row, took 27 ms and 141 ms
 * at 1,000 and 5,000.
 */
async function pruneOwner(
  tx: SqlExecutor,
  nowMs: string,
  saved: StoredResponse,
  savedBytes: number,
  bounds: StoredResponseBounds,
): Promise<void> {
  await tx.query(`DELETE FROM ptc_responses WHERE owner = $1 AND id <> $2 AND created_at < ${nowMs} - $3`, [
    saved.owner,
    saved.id,
    bounds.responseRetentionMs,
  ]);
  const totals = await tx.query(
    "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS total FROM ptc_responses WHERE owner = $1 AND id <> $2",
    [saved.owner, saved.id],
  );
  let count = Number(totals[0]?.n ?? 0) + 1;
  let total = Number(totals[0]?.total ?? 0) + savedBytes;
  while (count > bounds.maxResponsesPerKey || total > bounds.maxResponseBytesPerKey) {
    const oldest = await tx.query(
      "SELECT id, bytes FROM ptc_responses WHERE owner = $1 AND id <> $2 ORDER BY created_at, id LIMIT $3",
      [saved.owner, saved.id, PRUNE_BATCH],
    );
    if (oldest.length === 0) return;
    const forget: string[] = [];
    for (const row of oldest) {
      if (count <= bounds.maxResponsesPerKey && total <= bounds.maxResponseBytesPerKey) break;
      forget.push(String(row.id));
      count--;
      total -= Number(row.bytes);
    }
    for (const id of forget) await tx.query("DELETE FROM ptc_responses WHERE id = $1", [id]);
  }
}

export async function getResponse(db: SqlDriver, id: string): Promise<StoredResponse | undefined> {
  const row = (
    await db.query("SELECT id, owner, created_at, conversation, response FROM ptc_responses WHERE id = $1", [id])
  )[0];
  if (!row) return undefined;
  return {
    id: String(row.id),
    owner: String(row.owner),
    createdAt: Number(row.created_at),
    conversation: JSON.parse(String(row.conversation)) as JsonValue[],
    response: JSON.parse(String(row.response)) as JsonValue,
  };
}

export async function getResponseItem(db: SqlDriver, id: string, owner: string): Promise<JsonValue | undefined> {
  const rows = await db.query(
    `SELECT item FROM ptc_response_item_copies WHERE owner = $1 AND id = $2
     ORDER BY created_at DESC, response_id DESC LIMIT 1`,
    [owner, id],
  );
  const row = rows[0];
  return row && (JSON.parse(String(row.item)) as JsonValue);
}

export async function deleteResponse(db: SqlDriver, id: string, owner: string): Promise<boolean> {
  const rows = await db.query("DELETE FROM ptc_responses WHERE id = $1 AND owner = $2 RETURNING id", [id, owner]);
  return rows.length > 0;
}

/** One batch of the retention sweep: the `limit` oldest expired responses of every key (by `created_at`'s index). */
export async function pruneResponses(
  db: SqlDriver,
  dialect: SqlDialect,
  retentionMs: number,
  limit: number,
): Promise<number> {
  // SKIP LOCKED on PostgreSQL: nodes sweeping at once take disjoint rows.
  const rows = await db.query(
    `DELETE FROM ptc_responses WHERE id IN (
       SELECT id FROM ptc_responses WHERE created_at < ${dialect.nowMs} - $1
       ORDER BY created_at LIMIT $2${dialect.forUpdateSkipLocked})
     RETURNING id`,
    [retentionMs, limit],
  );
  return rows.length;
}
