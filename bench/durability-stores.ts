// The stores the durability bench writes into: memory, a SQLite file in a temp dir and a PostgreSQL database,
// each with the durability defaults `ptc serve` uses (SQLite `synchronous = FULL`; PostgreSQL `fsync = on`).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startThrowawayPostgres, type ThrowawayPostgres } from "../test/helpers/postgres-server.js";

export type StoreKind = "memory" | "sqlite" | "postgres";

/** Where each kind of store lives for one bench run; `url(kind, name)` names a fresh one, the same name the same one. */
export interface BenchStores {
  url(kind: StoreKind, name: string): Promise<string>;
  /** The settings that decide what a commit costs, as the servers report them. */
  readonly settings: string;
  /** The PostgreSQL server's URL (its `postgres` database), for the profile's raw round trips. */
  readonly postgresUrl: string;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * `PTC_TEST_POSTGRES_URL` names a server to use (its own settings are reported, and may not be durable);
 * without it a throwaway PostgreSQL starts with its durable defaults (fsync on, synchronous_commit on).
 */
export async function benchStores(): Promise<BenchStores> {
  const named = process.env.PTC_TEST_POSTGRES_URL;
  const started: ThrowawayPostgres | undefined = named ? undefined : await startThrowawayPostgres({ fsync: true });
  const serverUrl = named ?? started?.url ?? "";
  const dir = mkdtempSync(join(tmpdir(), "ptc-bench-durability-"));
  const databases = new Map<string, string>();
  const settings = await withClient(serverUrl, async (client) => {
    const show = async (name: string) => (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name];
    const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version;
    return `PostgreSQL ${version} (${named ? "PTC_TEST_POSTGRES_URL" : "throwaway, loopback TCP"}): fsync ${await show("fsync")}, synchronous_commit ${await show("synchronous_commit")}; SQLite: WAL, synchronous FULL, file in ${tmpdir()}`;
  });
  return {
    settings,
    postgresUrl: serverUrl,
    async url(kind, name) {
      if (kind === "memory") return "memory";
      if (kind === "sqlite") return join(dir, `${name}.db`);
      const known = databases.get(name);
      if (known) return known;
      const database = `ptc_bench_${name.replace(/\W/g, "_")}_${process.pid}`;
      await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${database}`));
      const url = withDatabase(serverUrl, database);
      databases.set(name, url);
      return url;
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
      if (started) return started.stop();
      await withClient(serverUrl, async (client) => {
        for (const url of databases.values()) {
          await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
        }
      });
    },
  };
}
