import type { Pool, PoolClient } from "pg";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { SqlDialect, SqlDriver, SqlExecutor, SqlParam, SqlRow } from "./sql-rows.js";
import { SqlStore } from "./sql-store.js";
import type { StoreOptions } from "./store.js";

/**
 * Connections one node opens at most. Each fenced write is one short transaction; ten cover a node's
 * concurrent tool calls without taking a large share of PostgreSQL's default 100 connections from the others.
 */
export const DEFAULT_POSTGRES_POOL_SIZE = 10;
/** A connection not made within this is `store_unavailable` (pg's own default is to wait forever). */
export const DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS = 5_000;

export interface PostgresStoreOptions extends StoreOptions {
  /** Default `DEFAULT_POSTGRES_POOL_SIZE`. */
  poolSize?: number;
  /** Default `DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS`. */
  connectTimeoutMs?: number;
}

const POSTGRES: SqlDialect = {
  kind: "postgres",
  // statement_timestamp(): fixed for one statement, read again by the next. Not now(), fixed at the transaction's
  // start (a lease check wants the present); not clock_timestamp(), read anew at each use, so one statement that
  // sets created_at, last_used_at and expires_at from it could straddle a millisecond (a CI run saw 1 ms apart).
  nowMs: "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::BIGINT",
  forUpdate: " FOR UPDATE",
  forShare: " FOR SHARE",
  forUpdateSkipLocked: " FOR UPDATE SKIP LOCKED",
  // Two nodes starting at once must not both create the tables.
  migrationLock: "SELECT pg_advisory_xact_lock(7370241013)",
  // Without it two saves of one key each count the key's rows before the other commits, and both stay:
  // the key is one response over its count or bytes until its next save.
  responseOwnerLock: "SELECT pg_advisory_xact_lock(hashtextextended('ptc_responses:' || $1::text, 0))",
};

/**
 * SQLSTATE classes that mean "the database cannot serve this now": 08 connection exception, 28 invalid
 * authorisation, 3D no such database, 53 insufficient resources (too many connections), 57 operator
 * intervention (shutting down, cannot connect now). Plus the socket's errors and pg's own messages.
 */
const UNAVAILABLE_SQLSTATE = /^(08|28|3D|53|57)/;
const UNAVAILABLE_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/i;

function unavailable(error: unknown): unknown {
  if (PtcError.isInstance(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const down =
    (typeof code === "string" && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) ||
    UNAVAILABLE_MESSAGE.test(message) ||
    // A refused connection to a host with several addresses arrives as an AggregateError of ECONNREFUSEDs.
    (error instanceof AggregateError && error.errors.some((inner) => unavailable(inner) !== inner));
  if (!down) return error;
  return new PtcError(
    ErrorCode.StoreUnavailable,
    `the PostgreSQL store is unavailable: ${message || "connection failed"}`,
    {
      backend: "postgres",
      ...(typeof code === "string" ? { driverCode: code } : {}),
    },
    { cause: error },
  );
}

/**
 * Statements as prepared statements, one name per text: PostgreSQL plans each once per connection. The
 * write on every tool call's path (a CTE with its fence) took ~400 µs to plan each time, more than its round
 * trip and WAL flush together (measured: 989 µs a write unprepared, 587 µs prepared). DDL goes as is.
 */
class StatementNames {
  readonly #names = new Map<string, string>();

  of(sql: string, params: readonly SqlParam[]): { text: string; values: SqlParam[]; name?: string } {
    if (!/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql)) return { text: sql, values: [...params] };
    let name = this.#names.get(sql);
    if (name === undefined) {
      name = `ptc_${this.#names.size + 1}`;
      this.#names.set(sql, name);
    }
    return { text: sql, values: [...params], name };
  }
}

class PostgresDriver implements SqlDriver {
  readonly #pool: Pool;
  readonly #statements = new StatementNames();

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async query(sql: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
    try {
      return (await this.#pool.query<SqlRow>(this.#statements.of(sql, params))).rows;
    } catch (error) {
      throw unavailable(error);
    }
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let broken: unknown;
    try {
      await client.query("BEGIN");
      const result = await work({
        query: async (sql, params = []) => (await client.query<SqlRow>(this.#statements.of(sql, params))).rows,
      });
      await client.query("COMMIT");
      return result;
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        // The connection is gone: it must not go back to the pool.
        broken = rollbackError;
      }
      throw unavailable(error);
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Opens the store on the PostgreSQL database at `url` (`postgres://user@host:port/db`), creating its
 * tables if they are missing. Several nodes open the same database: that is the point of this backend.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<SqlStore> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_POSTGRES_POOL_SIZE,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
  });
  // An idle connection dropped by the server (restart, failover) is reported here; without a listener it
  // would crash the process. The next query gets a fresh connection, or `store_unavailable`.
  pool.on("error", () => {});
  return SqlStore.open(new PostgresDriver(pool), POSTGRES, options);
}
