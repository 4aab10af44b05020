/**
 * The sample database as ptc's public types describe it. At run time it is a better-sqlite3 `Database`,
 * but better-sqlite3 is an optional peer dependency (a native module only the sample uses), so the
 * package's exported signatures use this structural type instead of its types, which a project without
 * better-sqlite3 does not have. A better-sqlite3 `Database` is assignable to it; with
 * `@types/better-sqlite3` installed, `createSalesDatabase() as Database.Database` gives the full API.
 */
export interface SalesDatabase {
  /** The file the database lives in, or `":memory:"`. */
  readonly name: string;
  readonly memory: boolean;
  readonly open: boolean;
  prepare(source: string): SalesDatabaseStatement;
  exec(source: string): unknown;
  /** The whole database as a buffer (an in-memory database is handed to the sample tools this way). */
  serialize(): Buffer;
  close(): unknown;
}

/** A prepared statement of a `SalesDatabase`: better-sqlite3's `Statement`, as far as ptc describes it. */
export interface SalesDatabaseStatement {
  run(...parameters: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): unknown[];
}

export interface SalesDatabaseOptions {
  /** Build into this SQLite file (its sample tables are replaced). Default: in memory. */
  path?: string;
}
