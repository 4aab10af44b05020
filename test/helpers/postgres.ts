import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { after } from "node:test";
import pg from "pg";
import { postgresBin, startThrowawayPostgres } from "./postgres-server.js";

/**
 * A real PostgreSQL for tests. `PTC_TEST_POSTGRES_URL` names one (CI starts a throwaway server and sets it);
 * without it, the first use starts a throwaway server of this test process (postgres-server.ts, `fsync=off`)
 * and stops it when the process exits. Every caller gets its own
 * fresh database, so test files can run in parallel against one server.
 */
let server: Promise<string> | undefined;
const databases: string[] = [];

/** True when a PostgreSQL can be had: named by the environment, or installed. Off CI, tests skip without one. */
export function postgresAvailable(): boolean {
  return process.env.PTC_TEST_POSTGRES_URL !== undefined || postgresBin() !== undefined || process.env.CI === "true";
}

function serverUrl(): Promise<string> {
  const named = process.env.PTC_TEST_POSTGRES_URL;
  server ??= named ? Promise.resolve(named) : startThrowawayPostgres({ fsync: false }).then((started) => started.url);
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
 * (open connections reset, new ones refused), without stopping a server other tests share. `restore`
 * brings it back on the same port.
 */
export async function cuttablePostgres(
  url: string,
): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void> }> {
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
    restore: () => new Promise<void>((resolve) => relay.listen(address.port, "127.0.0.1", resolve)),
  };
}
