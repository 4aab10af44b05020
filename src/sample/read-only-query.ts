import Database from "better-sqlite3";
import { formatCount } from "./format.js";

export type Row = Record<string, unknown>;

export const MAX_QUERY_ROWS = 10_000;

/**
 * A separate connection that cannot write: a file database is reopened read-only; an in-memory one
 * (which SQLite cannot share between connections) is snapshotted into a read-only copy.
 */
export function openReadOnly(database: Database.Database): Database.Database {
  const reader = database.memory
    ? new Database(database.serialize(), { readonly: true })
    : new Database(database.name, { readonly: true, fileMustExist: true });
  // Belt and braces: the connection is read-only already; query_only also blocks ATTACHed schemas.
  reader.pragma("query_only = ON");
  return reader;
}

/**
 * Runs one model-written statement. Refuses anything that is not a plain reader: a statement that
 * returns no rows (ATTACH, pragma assignments) or could modify data (DELETE ... RETURNING).
 */
export function runReadOnlyQuery(reader: Database.Database, sql: string, maxRows = MAX_QUERY_ROWS): Row[] {
  let statement: Database.Statement<unknown[], Row>;
  try {
    statement = reader.prepare<unknown[], Row>(sql);
  } catch (error) {
    throw new Error(`query_database: invalid SQL: ${messageOf(error)}`);
  }
  if (!statement.reader || !statement.readonly) {
    throw new Error(
      "query_database: the database is read-only; only queries that return rows (SELECT, WITH ... SELECT) are allowed",
    );
  }
  const rows: Row[] = [];
  try {
    for (const row of statement.iterate()) {
      if (rows.length === maxRows) {
        throw new RowLimitError(
          `query_database: the query returned more than ${formatCount(maxRows)} rows; ` +
            "aggregate in SQL (SUM, COUNT, GROUP BY) or add a LIMIT",
        );
      }
      rows.push(toJsonRow(row));
    }
  } catch (error) {
    if (error instanceof RowLimitError) throw error;
    throw new Error(`query_database: query failed: ${messageOf(error)}`);
  }
  return rows;
}

class RowLimitError extends Error {}

// Blobs would serialize as {type: "Buffer", data: [...]}; base64 text is what a script can use.
function toJsonRow(row: Row): Row {
  for (const [column, value] of Object.entries(row)) {
    if (value instanceof Uint8Array) row[column] = Buffer.from(value).toString("base64");
    else if (typeof value === "bigint") row[column] = Number(value);
  }
  return row;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
