import type { ContainerEndReason } from "../../engine/container-registry.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type {
  CallOutcome,
  ContainerStatus,
  ExecutionStatus,
  JournalCall,
  StoredContainer,
  StoredExecution,
  WorkerRecord,
} from "./store.js";

/** A row as a driver returns it: pg gives BIGINT as a string and booleans as booleans, SQLite numbers. */
export type SqlRow = Record<string, unknown>;
export type SqlParam = string | number | null;

/** Runs one statement, `$1`-style parameters; rows for a query or a `RETURNING`, else none. */
export interface SqlExecutor {
  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]>;
}

/** What the SQL store needs of a database: statements, and transactions that see one consistent state. */
export interface SqlDriver extends SqlExecutor {
  /** Runs `work` in one transaction that holds its write locks from the start; commits unless it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The few places SQLite and PostgreSQL differ. */
export interface SqlDialect {
  readonly kind: "sqlite" | "postgres";
  /** The database's clock in milliseconds since the epoch, as a BIGINT expression. */
  readonly nowMs: string;
  /** Appended to a `SELECT` that locks the rows it reads until commit ("" where the transaction is exclusive). */
  readonly forUpdate: string;
  /**
   * Appended to a read of the container row inside a single write statement: it holds the row against a
   * concurrent claim (whose UPDATE waits, or makes this read see the new epoch) until the write commits.
   */
  readonly forShare: string;
  /** `forUpdate`, skipping rows another transaction holds: concurrent sweepers take disjoint rows. */
  readonly forUpdateSkipLocked: string;
  /** Statement serialising concurrent schema migrations (a no-op where transactions are exclusive). */
  readonly migrationLock: string | undefined;
  /**
   * Statement (`$1` the owner) serialising one key's stored-response saves until commit, so each save's
   * prune counts the others' rows (undefined where transactions are exclusive).
   */
  readonly responseOwnerLock: string | undefined;
}

/** The statement's one row (an `UPDATE … RETURNING` of a row the transaction holds, say). */
export function oneRow(rows: SqlRow[]): SqlRow {
  const row = rows[0];
  if (!row) throw new Error("the statement returned no row");
  return row;
}

function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

function optNum(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : num(value);
}

function optStr(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

function optJson(value: unknown): JsonValue | undefined {
  return value === null || value === undefined ? undefined : (JSON.parse(String(value)) as JsonValue);
}

export function containerFromRow(row: SqlRow): StoredContainer {
  const origin = optStr(row.origin);
  const endedAt = optNum(row.ended_at);
  const endReason = optStr(row.end_reason) as ContainerEndReason | undefined;
  return {
    id: String(row.id),
    owner: optStr(row.owner),
    ...(origin === undefined ? {} : { origin }),
    status: String(row.status) as ContainerStatus,
    epoch: num(row.epoch),
    seed: num(row.seed),
    ownerNode: optStr(row.owner_node),
    createdAt: num(row.created_at),
    lastUsedAt: num(row.last_used_at),
    expiresAt: num(row.expires_at),
    ...(endedAt === undefined ? {} : { endedAt }),
    ...(endReason === undefined ? {} : { endReason }),
  };
}

export function executionFromRow(row: SqlRow): StoredExecution {
  return {
    id: String(row.id),
    containerId: String(row.container_id),
    ordinal: num(row.ordinal),
    code: String(row.code),
    language: String(row.language),
    options: JSON.parse(String(row.options)) as JsonValue,
    status: String(row.status) as ExecutionStatus,
    result: optJson(row.result),
    apiKeyOwner: optStr(row.api_key_owner),
    startedAt: num(row.started_at),
    finishedAt: optNum(row.finished_at),
  };
}

export function callFromRow(row: SqlRow): JournalCall {
  return {
    executionId: String(row.execution_id),
    n: num(row.n),
    guestCallId: num(row.guest_call_id),
    callId: String(row.call_id),
    tool: String(row.tool),
    argsSha256: String(row.args_sha256),
    input: optJson(row.input) ?? null,
    outcome: optStr(row.outcome) as CallOutcome | undefined,
    value: optJson(row.value),
    completedOrder: optNum(row.completed_order),
    calledAt: num(row.called_at),
    completedAt: optNum(row.completed_at),
  };
}

export function workerFromRow(row: SqlRow): WorkerRecord {
  return {
    id: String(row.id),
    url: String(row.url),
    heartbeatAt: num(row.heartbeat_at),
    alive: row.alive === true || row.alive === 1,
  };
}
