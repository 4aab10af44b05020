import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, on a free loopback port), shared by the
 * tests (test/helpers/postgres.ts) and the durability bench. No node:test here: the bench is no test run.
 */
export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): void;
}

export interface ThrowawayPostgresOptions {
  /**
   * False (tests) runs with `fsync=off`: faster, and a test never loses power. The bench keeps PostgreSQL's
   * durable default (`fsync=on`), since what it measures is the cost of a commit that survives a crash.
   */
  fsync: boolean;
}

/** Where initdb and pg_ctl are, newest version first; undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
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

export async function startThrowawayPostgres(options: ThrowawayPostgresOptions): Promise<ThrowawayPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)");
  const dir = mkdtempSync(join(tmpdir(), "ptc-pg-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir]);
  const port = await freePort();
  const data = join(dir, "data");
  asPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const fsync = options.fsync ? "" : " -c fsync=off";
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${fsync}`;
  asPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", serverOptions, "-l", join(dir, "log"), "-w", "start"]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const root = process.getuid?.() === 0;
    const pgCtl = join(bin, "pg_ctl");
    const args = ["-D", data, "-m", "fast", "-w", "stop"];
    spawnSync(root ? "runuser" : pgCtl, root ? ["-u", "postgres", "--", pgCtl, ...args] : args, { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  // `exit` covers a process that ends without its own clean-up (a crash, a timeout).
  process.once("exit", stop);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}
