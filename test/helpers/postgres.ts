import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import pg from "pg";

/**
 * A real PostgreSQL for tests. `PTC_TEST_POSTGRES_URL` names one (CI starts a throwaway server and sets it);
 * without it, the first use starts a throwaway server of this test process (initdb + pg_ctl in a temp dir,
 * on a free loopback port, `fsync=off`) and stops it when the process's tests end. Every caller gets its own
 * fresh database, so test files can run in parallel against one server.
 */
let server: Promise<string> | undefined;
const databases: string[] = [];

/** Where initdb and pg_ctl are, newest version first; undefined when PostgreSQL is not installed. */
function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** True when a PostgreSQL can be had: named by the environment, or installed. Off CI, tests skip without one. */
export function postgresAvailable(): boolean {
  return process.env.PTC_TEST_POSTGRES_URL !== undefined || postgresBin() !== undefined || process.env.CI === "true";
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** As root, PostgreSQL's tools must run as the `postgres` user (the server refuses root). */
function asPostgres(command: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  execFileSync(root ? "runuser" : command, root ? ["-u", "postgres", "--", command, ...args] : args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

async function startThrowawayServer(): Promise<string> {
  const bin = postgresBin();
  if (!bin)
    throw new Error(
      "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb) and PTC_TEST_POSTGRES_URL is unset",
    );
  const dir = mkdtempSync(join(tmpdir(), "ptc-pg-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir]);
  const port = await freePort();
  const data = join(dir, "data");
  asPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  asPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const stop = () => {
    const root = process.getuid?.() === 0;
    const pgCtl = join(bin, "pg_ctl");
    const args = ["-D", data, "-m", "fast", "-w", "stop"];
    spawnSync(root ? "runuser" : pgCtl, root ? ["-u", "postgres", "--", pgCtl, ...args] : args, { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  // `exit` covers a test process that ends without running its `after` hooks (a crash, a timeout).
  process.once("exit", stop);
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

function serverUrl(): Promise<string> {
  const named = process.env.PTC_TEST_POSTGRES_URL;
  server ??= named ? Promise.resolve(named) : startThrowawayServer();
  return server;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await serverUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the test server: its URL. Dropped when the test process's tests end. */
export async function freshPostgresDatabase(): Promise<string> {
  const database = `ptc_test_${randomBytes(6).toString("hex")}`;
  await admin((client) => client.query(`CREATE DATABASE ${database}`));
  databases.push(database);
  return withDatabase(await serverUrl(), database);
}

after(async () => {
  if (!server || databases.length === 0) return;
  await admin(async (client) => {
    for (const database of databases.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
});

/**
 * A TCP relay to the test server that can be cut: the store's view of a database that goes down mid-use
 * (open connections reset, new ones refused), without stopping a server other tests share.
 */
export async function cuttablePostgres(url: string): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const address = relay.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const relayed = new URL(url);
  relayed.port = String(address.port);
  return {
    url: relayed.toString(),
    cut: async () => {
      const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
