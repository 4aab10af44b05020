import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { SqlDialect, SqlParam, SqlRow } from "./sql-rows.js";
import { SqlStore } from "./sql-store.js";
import { GroupCommitDriver } from "./sqlite-group-commit.js";
import type { StoreOptions } from "./store.js";

/** How long a write waits for another process's write lock on the same file before `store_unavailable`. */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000;

const SQLITE: SqlDialect = {
  kind: "sqlite",
  // julianday('now') has millisecond precision and is fixed for the whole statement.
  nowMs: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
  // A transaction here is `BEGIN IMMEDIATE`: it holds the one write lock from its start, so reads in it
  // are already as good as locked, and there is never a second sweeper inside the file at the same time.
  forUpdate: "",
  // One statement is one write transaction under the file's single write lock.
  forShare: "",
  forUpdateSkipLocked: "",
  migrationLock: undefined,
  responseOwnerLock: undefined,
};

/** SQLite's result codes (and the file system's) that mean the file cannot be used now, not a bad statement. */
const UNAVAILABLE =
  /^(SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|CORRUPT|NOTADB|PERM|AUTH)|EACCES|EPERM|EROFS|ENOSPC|ENOTDIR|EEXIST)/;

function unavailable(error: unknown): unknown {
  if (PtcError.isInstance(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const closed = error instanceof TypeError && /database connection is not open/.test(error.message);
  if ((typeof code === "string" && UNAVAILABLE.test(code)) || closed) {
    return new PtcError(
      ErrorCode.StoreUnavailable,
      `the SQLite store is unavailable: ${(error as Error).message}`,
      {
        backend: "sqlite",
        ...(typeof code === "string" ? { driverCode: code } : {}),
      },
      { cause: error },
    );
  }
  return error;
}

/**
 * Prepared statements by their text, each prepared once. `$n` placeholders (the PostgreSQL style the shared
 * statements use) become SQLite's positional `?`.
 */
function statementRunner(db: BetterSqlite3.Database): (sql: string, params: readonly SqlParam[]) => SqlRow[] {
  const statements = new Map<string, { statement: BetterSqlite3.Statement; order: number[] }>();
  return (sql, params) => {
    let prepared = statements.get(sql);
    if (!prepared) {
      const order: number[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return "?";
      });
      prepared = { statement: db.prepare(text), order };
      statements.set(sql, prepared);
    }
    const values = prepared.order.map((i) => params[i] ?? null);
    if (prepared.statement.reader) return prepared.statement.all(...values) as SqlRow[];
    prepared.statement.run(...values);
    return [];
  };
}

/**
 * `full` (the default): every commit is synced to disk, so a committed write survives a power loss too
 * (~100 µs per commit on this machine's quiet disk, ~2 ms under a burst; the writes of a turn share one
 * commit, `GroupCommitDriver`). `normal`: WAL's NORMAL, which survives a crash of the process
 * (`kill -9`) but may lose the last commits to a power loss or OS crash, at a fraction of the cost.
 */
export type SqliteSynchronous = "full" | "normal";

/**
 * Opens (creating it and its directory if needed) the SQLite store at `path`: WAL, so readers in other
 * processes never block the writer; `synchronous` as `SqliteSynchronous` says.
 */
export async function openSqliteStore(
  path: string,
  options: StoreOptions = {},
  synchronous: SqliteSynchronous = "full",
): Promise<SqlStore> {
  let db: BetterSqlite3.Database;
  try {
    const { default: Database } = await import("better-sqlite3");
    // 0700: the store holds tool inputs and results in clear text.
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path, { timeout: DEFAULT_SQLITE_BUSY_TIMEOUT_MS });
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);
    db.pragma("foreign_keys = ON");
  } catch (error) {
    throw unavailable(error);
  }
  return SqlStore.open(new GroupCommitDriver(db, statementRunner(db), unavailable), SQLITE, options);
}
