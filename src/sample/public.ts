/**
 * `ptc/sample`: the demo tools and data `ptc run` uses when no tools are named. Its declarations never mention
 * better-sqlite3's types (an optional peer dependency a project may not have): the database is a
 * `SalesDatabase`, and nothing here re-exports a module whose declarations import better-sqlite3.
 */
import { createSalesDatabase as createDatabase } from "./sales-database.js";
import type { SalesDatabase, SalesDatabaseOptions } from "./sales-database-type.js";

export type { SalesDatabase, SalesDatabaseOptions, SalesDatabaseStatement } from "./sales-database-type.js";
export {
  closeSampleTools,
  createSampleTools,
  type SampleTools,
  type SampleToolsOptions,
} from "./sample-tools.js";

/**
 * Builds the sample sales database (a better-sqlite3 `Database`; installing better-sqlite3 is up to the
 * project using the sample): the same data on every run, in about 130 ms. The connection is writable;
 * the sample tools query it read-only.
 */
export function createSalesDatabase(options: SalesDatabaseOptions = {}): SalesDatabase {
  return createDatabase(options);
}
