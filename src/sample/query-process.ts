/**
 * The child process that runs query_database's SQL (started by query-processes.ts, never imported).
 * SQLite runs a statement synchronously and better-sqlite3 cannot interrupt one, so a long query must
 * run where it can be killed: here, with SIGKILL from the host, at the per-tool timeout.
 *
 * Protocol over the IPC channel: this process sends `ready`; the host sends `open` with the database,
 * then one `query` at a time; each is answered with `rows` or `error`.
 */
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { type DatabaseSource, openReadOnly, runReadOnlyQuery } from "./read-only-query.js";

export type QueryProcessRequest =
  | { type: "open"; source: { image: Uint8Array } | { filename: string } }
  | { type: "query"; id: number; sql: string };

export type QueryProcessReply =
  | { type: "ready" }
  | { type: "rows"; id: number; json: string }
  | { type: "error"; id: number; message: string };

const send = (reply: QueryProcessReply): void => {
  process.send?.(reply);
};

// A query never returns to JavaScript until SQLite is done, so this thread cannot notice that the host
// died; a watchdog thread does, and kills the process rather than leave a query burning a core.
const watchdog = new Worker(
  `const { workerData } = require("node:worker_threads");
   setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, "SIGKILL"); }, 1000);`,
  { eval: true, workerData: process.ppid },
);
watchdog.unref();
process.on("disconnect", () => process.exit(0));

let reader: Database.Database | undefined;
let openError = "the database is not open";

process.on("message", (message: QueryProcessRequest) => {
  if (message.type === "open") {
    const { source } = message;
    // Advanced IPC serialisation delivers a Buffer as a plain Uint8Array; better-sqlite3 wants a Buffer.
    const opened: DatabaseSource =
      "image" in source
        ? { image: Buffer.from(source.image.buffer, source.image.byteOffset, source.image.byteLength) }
        : source;
    try {
      reader = openReadOnly(opened);
    } catch (error) {
      openError = `cannot open the database: ${error instanceof Error ? error.message : String(error)}`;
    }
    return;
  }
  try {
    if (!reader) throw new Error(`query_database: ${openError}`);
    send({ type: "rows", id: message.id, json: runReadOnlyQuery(reader, message.sql) });
  } catch (error) {
    send({ type: "error", id: message.id, message: error instanceof Error ? error.message : String(error) });
  }
});
send({ type: "ready" });
