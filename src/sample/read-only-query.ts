import type Database from "better-sqlite3";
import { openDatabase } from "./better-sqlite3.js";
import { formatCount } from "./format.js";
import type { SalesDatabase } from "./sales-database-type.js";

export type Row = Record<string, unknown>;

export const MAX_QUERY_ROWS = 10_000;
/**
 * One query_database result, as the JSON the script receives: a larger one fails the call. Far above
 * any useful answer (10,000 order rows are ~1.3 MB, the large file ~200 KB), far below what a single
 * SQLite value can be (`hex(zeroblob(100000000))` is 200 MB).
 */
export const MAX_QUERY_RESULT_BYTES = 4 * 1_048_576;

/** Where a read-only connection opens the sample database from. */
export type DatabaseSource = { image: Buffer } | { filename: string };

/**
 * What a separate connection that cannot write opens: a file database is reopened read-only; an
 * in-memory one (which SQLite cannot share between connections) is snapshotted.
 */
export function databaseSource(database: SalesDatabase): DatabaseSource {
  return database.memory ? { image: database.serialize() } : { filename: database.name };
}

/** A read-only connection to `source`. */
export function openReadOnly(source: DatabaseSource): Database.Database {
  const reader =
    "image" in source
      ? openDatabase(source.image, { readonly: true })
      : openDatabase(source.filename, { readonly: true, fileMustExist: true });
  // Belt and braces: the connection is read-only already; query_only also blocks ATTACHed schemas.
  reader.pragma("query_only = ON");
  return reader;
}

export interface QueryCaps {
  maxRows?: number;
  maxBytes?: number;
}

/**
 * Runs one model-written statement and returns its rows as JSON text (an array of objects, column name
 * to value). Refuses anything that is not a plain reader: a statement that returns no rows (ATTACH,
 * pragma assignments) or could modify data (DELETE ... RETURNING). Fails past `maxRows` rows or
 * `maxBytes` bytes of JSON, as soon as the row that crosses the cap arrives.
 */
export function runReadOnlyQuery(reader: Database.Database, sql: string, caps: QueryCaps = {}): string {
  const maxRows = caps.maxRows ?? MAX_QUERY_ROWS;
  const maxBytes = caps.maxBytes ?? MAX_QUERY_RESULT_BYTES;
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
  const rows: string[] = [];
  let bytes = 2; // "[]"
  try {
    for (const row of statement.iterate()) {
      if (rows.length === maxRows) {
        throw new ResultLimitError(
          `query_database: the query returned more than ${formatCount(maxRows)} rows; ` +
            "aggregate in SQL (SUM, COUNT, GROUP BY) or add a LIMIT",
        );
      }
      const json = rowJson(toJsonRow(row), maxBytes - bytes);
      bytes += (json === undefined ? Number.POSITIVE_INFINITY : Buffer.byteLength(json)) + (rows.length > 0 ? 1 : 0);
      if (json === undefined || bytes > maxBytes) {
        throw new ResultLimitError(
          `query_database: the result is larger than ${formatCount(maxBytes)} bytes of JSON; ` +
            "select fewer rows or columns, shorten long values (substr), or aggregate in SQL",
        );
      }
      rows.push(json);
    }
  } catch (error) {
    if (error instanceof ResultLimitError) throw error;
    throw new Error(`query_database: query failed: ${messageOf(error)}`);
  }
  return `[${rows.join(",")}]`;
}

class ResultLimitError extends Error {}

// Blobs would serialize as {type: "Buffer", data: [...]}; base64 text is what a script can use.
function toJsonRow(row: Row): Row {
  for (const [column, value] of Object.entries(row)) {
    if (value instanceof Uint8Array) row[column] = Buffer.from(value).toString("base64");
    else if (typeof value === "bigint") row[column] = Number(value);
  }
  return row;
}

/**
 * `row` as JSON, or undefined when its text values alone are longer than `budget`: a 200 MB value is
 * refused by its length, without building its JSON. (A UTF-16 length never exceeds the UTF-8 size.)
 */
function rowJson(row: Row, budget: number): string | undefined {
  let text = 0;
  for (const value of Object.values(row)) if (typeof value === "string") text += value.length;
  return text > budget ? undefined : JSON.stringify(row);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
