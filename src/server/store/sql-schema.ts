import type { SqlDialect, SqlDriver } from "./sql-rows.js";

/**
 * The store's tables, in SQL both SQLite and PostgreSQL run unchanged (TEXT, INTEGER, BIGINT, CHECK,
 * `ON DELETE CASCADE`). Times are BIGINT milliseconds since the epoch from the database's clock; JSON is TEXT
 * in canonical form (sorted keys), so equal values are equal text. Tables carry a `ptc_` prefix: a
 * PostgreSQL database may be shared with other applications.
 *
 * Each entry of `MIGRATIONS` is one schema version; an opened store applies those it has not recorded in
 * `ptc_schema`, in one transaction. Never edit a published entry: append the next.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE ptc_workers (
      id TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      heartbeat_at BIGINT NOT NULL
    )`,
    `CREATE TABLE ptc_containers (
      id TEXT PRIMARY KEY,
      owner TEXT,
      origin TEXT,
      status TEXT NOT NULL CHECK (status IN ('live', 'ended')),
      end_reason TEXT,
      epoch BIGINT NOT NULL,
      seed BIGINT NOT NULL,
      owner_node TEXT,
      created_at BIGINT NOT NULL,
      last_used_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      ended_at BIGINT
    )`,
    // The sweep reads live containers by expiry; pruning reads tombstones by end time.
    "CREATE INDEX ptc_containers_expiry ON ptc_containers (status, expires_at)",
    "CREATE INDEX ptc_containers_ended ON ptc_containers (status, ended_at)",
    `CREATE TABLE ptc_executions (
      id TEXT PRIMARY KEY,
      container_id TEXT NOT NULL REFERENCES ptc_containers (id) ON DELETE CASCADE,
      ordinal INTEGER NOT NULL,
      code TEXT NOT NULL,
      language TEXT NOT NULL,
      options TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'done', 'failed')),
      result TEXT,
      api_key_owner TEXT,
      started_at BIGINT NOT NULL,
      finished_at BIGINT,
      UNIQUE (container_id, ordinal)
    )`,
    `CREATE TABLE ptc_journal (
      execution_id TEXT NOT NULL REFERENCES ptc_executions (id) ON DELETE CASCADE,
      n INTEGER NOT NULL,
      guest_call_id BIGINT NOT NULL,
      call_id TEXT NOT NULL,
      tool TEXT NOT NULL,
      args_sha256 TEXT NOT NULL,
      input TEXT NOT NULL,
      outcome TEXT CHECK (outcome IN ('ok', 'error', 'cancelled')),
      value TEXT,
      completed_order INTEGER,
      called_at BIGINT NOT NULL,
      completed_at BIGINT,
      PRIMARY KEY (execution_id, n),
      UNIQUE (execution_id, guest_call_id),
      UNIQUE (execution_id, call_id)
    )`,
    // Each recorded outcome takes the execution's next completion order: MAX over this index, not a scan.
    "CREATE INDEX ptc_journal_completed ON ptc_journal (execution_id, completed_order)",
  ],
  // 2: `/v1/responses` with `store: true` (previous_response_id, item_reference). An item id seen in several
  // responses (each carries the conversation before it) keeps its first copy.
  [
    `CREATE TABLE ptc_responses (
      id TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      conversation TEXT NOT NULL,
      response TEXT NOT NULL
    )`,
    `CREATE TABLE ptc_response_items (
      id TEXT PRIMARY KEY,
      response_id TEXT NOT NULL REFERENCES ptc_responses (id) ON DELETE CASCADE,
      item TEXT NOT NULL
    )`,
  ],
  // 3: bounds on each API key's stored responses: their bytes (conversation, response and items as UTF-8;
  // older rows are counted by characters, near enough), a key's totals and oldest rows read from one index, the
  // sweep by age, and the items' foreign key (a deleted response's items are found by index, not a scan).
  [
    "ALTER TABLE ptc_responses ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0",
    "UPDATE ptc_responses SET bytes = LENGTH(conversation) + LENGTH(response)",
    "CREATE INDEX ptc_responses_owner_created ON ptc_responses (owner, created_at, id, bytes)",
    "CREATE INDEX ptc_responses_created ON ptc_responses (created_at)",
    "CREATE INDEX ptc_response_items_response ON ptc_response_items (response_id)",
  ],
  // 4: each response keeps its own copy of its items (version 2 kept one per id, moved to the key's latest
  // response carrying it, so deleting that response took the item from the older ones still holding it).
  // An item is found as the key's newest copy; the copies go with their response (the primary key's prefix).
  [
    `CREATE TABLE ptc_response_item_copies (
      response_id TEXT NOT NULL REFERENCES ptc_responses (id) ON DELETE CASCADE,
      id TEXT NOT NULL,
      owner TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      item TEXT NOT NULL,
      PRIMARY KEY (response_id, id)
    )`,
    "CREATE INDEX ptc_response_item_copies_owner ON ptc_response_item_copies (owner, id, created_at)",
    `INSERT INTO ptc_response_item_copies (response_id, id, owner, created_at, item)
     SELECT i.response_id, i.id, r.owner, r.created_at, i.item FROM ptc_response_items i
     JOIN ptc_responses r ON r.id = i.response_id`,
    "DROP TABLE ptc_response_items",
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export const CREATE_SCHEMA_TABLE =
  "CREATE TABLE IF NOT EXISTS ptc_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

/** Applies the migrations `ptc_schema` does not list yet, in one transaction. Safe to run from several nodes at once. */
export async function migrate(driver: SqlDriver, dialect: SqlDialect): Promise<void> {
  await driver.transaction(async (tx) => {
    if (dialect.migrationLock) await tx.query(dialect.migrationLock);
    await tx.query(CREATE_SCHEMA_TABLE);
    const rows = await tx.query("SELECT COALESCE(MAX(version), 0) AS version FROM ptc_schema");
    const applied = Number(rows[0]?.version ?? 0);
    for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
      for (const statement of MIGRATIONS[version - 1] ?? []) await tx.query(statement);
      await tx.query(`INSERT INTO ptc_schema (version, applied_at) VALUES ($1, ${dialect.nowMs})`, [version]);
    }
  });
}
