// Where a durable call's time goes: the raw cost of what each store write is made of, measured on the same
// disk and the same PostgreSQL as the stores. A write-ahead call is two transactions (appendCall, then
// recordCallResult), each a few statements (sql-store.ts): 7 and 6 round trips on PostgreSQL, BEGIN and
// COMMIT included, and on both backends one durable commit each.
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import type { BenchStores } from "./durability-stores.js";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

/** Statements per write-ahead call on the SQL stores (sql-store.ts appendCall + recordCallResult). */
export const STATEMENTS_PER_CALL = { appendCall: 7, recordCallResult: 6 } as const;

function perOperation(count: number, work: () => void): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) work();
  return (elapsedMs(started) * 1000) / count;
}

async function perOperationAsync(count: number, work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await work();
  return (elapsedMs(started) * 1000) / count;
}

/** One-row insert transactions on a SQLite file (WAL) with `synchronous` FULL (the store's) and NORMAL. */
function sqliteCommits(dir: string, count: number, repeats: number): Measurement[] {
  const rows: Measurement[] = [];
  for (const synchronous of ["FULL", "NORMAL"] as const) {
    const db = new Database(join(dir, `profile-${synchronous}.db`));
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${synchronous}`);
      db.exec("CREATE TABLE t (a INTEGER, b TEXT)");
      const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
      const samples = Array.from({ length: repeats }, () =>
        perOperation(count, () => {
          db.exec("BEGIN IMMEDIATE");
          insert.run(1, "x");
          db.exec("COMMIT");
        }),
      );
      const note =
        synchronous === "FULL"
          ? "the store's setting: an fsync of the WAL per commit"
          : "no fsync per commit (not durable on power loss)";
      rows.push(
        summarize(
          `sqliteCommit_${synchronous}`,
          `SQLite one-row commit, synchronous ${synchronous}`,
          "µs",
          samples,
          note,
        ),
      );
    } finally {
      db.close();
    }
  }
  return rows;
}

/** A bare round trip, and one-row insert transactions with `synchronous_commit` on (durable) and off. */
async function postgresCommits(url: string, count: number, repeats: number): Promise<Measurement[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // A temporary table is never WAL-logged: a real one is, as the store's are.
    await client.query("CREATE TABLE IF NOT EXISTS ptc_bench_profile (a INTEGER, b TEXT)");
    const roundTrip = Array.from({ length: repeats }, () => 0);
    for (let r = 0; r < repeats; r++) roundTrip[r] = await perOperationAsync(count, () => client.query("SELECT 1"));
    const rows = [summarize("pgRoundTrip", "PostgreSQL round trip (SELECT 1, loopback)", "µs", roundTrip)];
    for (const setting of ["on", "off"] as const) {
      await client.query(`SET synchronous_commit = ${setting}`);
      const samples: number[] = [];
      for (let r = 0; r < repeats; r++) {
        samples.push(
          await perOperationAsync(count, async () => {
            await client.query("BEGIN");
            await client.query("INSERT INTO ptc_bench_profile VALUES ($1, $2)", [1, "x"]);
            await client.query("COMMIT");
          }),
        );
      }
      const note =
        setting === "on"
          ? "the default: COMMIT waits for the WAL flush"
          : "COMMIT returns before the flush (not durable)";
      rows.push(
        summarize(
          `pgCommit_${setting}`,
          `PostgreSQL BEGIN + INSERT + COMMIT, synchronous_commit ${setting}`,
          "µs",
          samples,
          note,
        ),
      );
    }
    await client.query("DROP TABLE ptc_bench_profile");
    return rows;
  } finally {
    await client.end();
  }
}

export async function commitProfile(stores: BenchStores, count: number, repeats: number): Promise<Measurement[]> {
  const sqliteFile = await stores.url("sqlite", "profile");
  const dir = sqliteFile.slice(0, sqliteFile.lastIndexOf("/"));
  return [
    ...sqliteCommits(dir, count, repeats),
    ...(await postgresCommits(await stores.url("postgres", "profile"), count, repeats)),
  ];
}
