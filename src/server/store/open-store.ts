import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { MemoryStore } from "./memory-store.js";
import type { PostgresStoreOptions } from "./postgres-store.js";
import type { Store } from "./store.js";

/**
 * The store a `--store` value names: `memory`; `postgres://…` or `postgresql://…`; `sqlite:PATH` or a bare
 * path (a SQLite file), optionally with `?synchronous=normal` (see `SqliteSynchronous`). The SQL backends are imported only when named, so a server on the memory store
 * loads neither driver (better-sqlite3 is an optional peer dependency).
 */
export async function openStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  if (url === "memory") return new MemoryStore(options);
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgresStore } = await import("./postgres-store.js");
    return openPostgresStore(url, options);
  }
  const named = url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url;
  const query = /\?synchronous=(full|normal)$/.exec(named);
  const path = query ? named.slice(0, query.index) : named;
  if (path === "" || /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || /\?/.test(path)) {
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `unknown store "${url}": use memory, a SQLite path (with ?synchronous=full|normal) or postgres://…`,
    );
  }
  const { openSqliteStore } = await import("./sqlite-store.js");
  return openSqliteStore(path, options, query?.[1] === "normal" ? "normal" : "full");
}
