import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { QueryProcessReply, QueryProcessRequest } from "./query-process.js";
import type { DatabaseSource, Row } from "./read-only-query.js";

/**
 * query_database's SQL runs in child processes, not on the host's event loop. SQLite runs a statement
 * synchronously and better-sqlite3 has no way to interrupt one (no progress handler, no
 * sqlite3_interrupt), so a recursive CTE would freeze the host until it finished, or for ever. Not a
 * worker thread either: `worker.terminate()` waits for the running native call to return, so it does
 * not stop `WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM r) SELECT count(*) FROM r`
 * (nor does process exit). A child process can always be killed: the call's signal (the per-tool
 * timeout, a cancel, the execution's end) SIGKILLs the process running it, and a fresh one replaces it.
 *
 * One process starts with the tools, a second when a call finds the first busy; each runs one query at a
 * time and is reused, so a call costs an IPC round trip (~0.1 ms). Idle processes do not keep the host
 * alive; a query in progress does.
 */
export const MAX_QUERY_PROCESSES = 2;

/** A second process, started for a burst of calls, is stopped this long after both are idle (if still idle). */
const SPARE_IDLE_MS = 30_000;

/** Per process: room for a result at the byte cap, and for refusing one huge value. */
const HEAP_MB = 512;

const here = dirname(fileURLToPath(import.meta.url));

function entryPoint(): { file: string; execArgv: string[] } {
  // Installed: compiled JS. In a checkout run through tsx: the TS source, through tsx's loader, on this
  // process's Node (the one better-sqlite3 was built for).
  const compiled = join(here, "query-process.js");
  if (existsSync(compiled)) return { file: compiled, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { file: join(here, "query-process.ts"), execArgv: ["--import", loader] };
}

// Kills what is still running when the host exits: a process stuck in a query would not notice the
// IPC channel closing. (A host killed outright is noticed by each process's watchdog thread.)
const everyProcess = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  everyProcess.add(child);
  child.once("exit", () => everyProcess.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const running of everyProcess) running.kill("SIGKILL");
  });
}

interface PendingQuery {
  id: number;
  resolve(rows: Row[]): void;
  reject(error: Error): void;
}

/** One child process with its own read-only connection; one query at a time. */
class QueryProcess {
  /** Settles when the process has exited, however. */
  readonly gone: Promise<void>;
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  #pending: PendingQuery | undefined;
  #nextId = 1;
  #started = false;
  #killed = false;
  #exited = false;
  #exitNote = "";

  constructor(source: DatabaseSource) {
    const { file, execArgv } = entryPoint();
    this.#child = fork(file, [], {
      execArgv: [...execArgv, `--max-old-space-size=${HEAP_MB}`],
      env: {},
      serialization: "advanced",
      // Never the host's stdout: `ptc mcp` speaks its protocol there.
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    track(this.#child);
    this.#child.on("error", () => undefined); // a failed spawn or send ends in "exit", handled there
    this.gone = new Promise<void>((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#exited = true;
        this.#exitNote = signal ?? `exit code ${code}`;
        this.#pending?.reject(this.#exitError("during the query"));
        this.#pending = undefined;
        resolve();
      });
    });
    this.#ready = new Promise<void>((resolve, reject) => {
      void this.gone.then(() => reject(this.#exitError("before it was ready")));
      this.#child.once("message", () => {
        this.#started = true;
        resolve();
      });
    });
    // The child answers `ready` once it listens; the database goes to it then.
    this.#ready.then(
      () => this.#send({ type: "open", source }),
      () => undefined,
    );
    this.#child.on("message", (reply: QueryProcessReply) => this.#onReply(reply));
  }

  /** Neither exited nor being killed: can take a query. */
  get alive(): boolean {
    return !this.#exited && !this.#killed;
  }

  /** Whether it ever got ready: one that did not would likely fail again if restarted. */
  get started(): boolean {
    return this.#started;
  }

  async run(sql: string, signal: AbortSignal | undefined): Promise<Row[]> {
    const abort = (): void => this.kill();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      await this.#ready;
      signal?.throwIfAborted();
      return await new Promise<Row[]>((resolve, reject) => {
        const id = this.#nextId++;
        this.#pending = { id, resolve, reject };
        this.#send({ type: "query", id, sql });
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      signal?.removeEventListener("abort", abort);
    }
  }

  /** Keeps the host alive while a query runs; an idle process does not. */
  hold(busy: boolean): void {
    if (this.#exited) return;
    if (busy) {
      this.#child.ref();
      this.#child.channel?.ref();
    } else {
      this.#child.unref();
      this.#child.channel?.unref();
    }
  }

  kill(): void {
    if (this.#exited) return;
    this.#killed = true;
    this.#child.kill("SIGKILL");
  }

  #send(request: QueryProcessRequest): void {
    if (!this.#exited && this.#child.connected) this.#child.send(request);
  }

  #onReply(reply: QueryProcessReply): void {
    const pending = this.#pending;
    if (reply.type === "ready" || !pending || reply.id !== pending.id) return;
    this.#pending = undefined;
    // One string crosses the channel (cheap to copy), parsed once here: far less of the host's event
    // loop than structured-cloning thousands of row objects.
    if (reply.type === "rows") pending.resolve(JSON.parse(reply.json) as Row[]);
    else pending.reject(new Error(reply.message));
  }

  #exitError(when: string): Error {
    return new Error(
      `query_database: the query process ended ${when} (${this.#exitNote}); ` +
        "a query that needs too much memory ends this way",
    );
  }
}

interface Waiter {
  resolve(member: QueryProcess): void;
  reject(error: unknown): void;
}

/** The processes that run query_database for one set of sample tools. */
export class QueryProcesses {
  readonly #source: DatabaseSource;
  readonly #max: number;
  readonly #all = new Set<QueryProcess>();
  #idle: QueryProcess[] = [];
  #waiting: Waiter[] = [];
  #closed = false;
  #spareTimer: NodeJS.Timeout | undefined;

  constructor(source: DatabaseSource, max = MAX_QUERY_PROCESSES) {
    this.#source = source;
    this.#max = max;
  }

  /** Starts one process ahead of the first call, if none is running, so that call does not wait for it. */
  warm(): void {
    if (this.#closed || this.#all.size > 0) return;
    const member = this.#spawn();
    member.hold(false);
    this.#idle.push(member);
  }

  /** Runs one statement; `signal` kills the process running it (the call then rejects with its reason). */
  async query(sql: string, signal?: AbortSignal): Promise<Row[]> {
    signal?.throwIfAborted();
    const member = await this.#acquire(signal);
    try {
      return await member.run(sql, signal);
    } finally {
      this.#release(member);
    }
  }

  /** Kills every process; later queries fail. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#spareTimer);
    for (const waiter of this.#waiting.splice(0)) waiter.reject(closedError());
    this.#idle = [];
    const members = [...this.#all];
    for (const member of members) {
      member.hold(true); // so the host waits for the exits it awaits
      member.kill();
    }
    await Promise.all(members.map((member) => member.gone));
  }

  #acquire(signal: AbortSignal | undefined): Promise<QueryProcess> {
    if (this.#closed) return Promise.reject(closedError());
    const member = this.#idle.pop() ?? (this.#all.size < this.#max ? this.#spawn() : undefined);
    if (member) {
      member.hold(true);
      return Promise.resolve(member);
    }
    return new Promise<QueryProcess>((resolve, reject) => {
      const abort = (): void => {
        this.#waiting = this.#waiting.filter((other) => other !== waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (next) => {
          signal?.removeEventListener("abort", abort);
          next.hold(true);
          resolve(next);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", abort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(member: QueryProcess): void {
    if (!member.alive || this.#closed) return;
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter.resolve(member);
      return;
    }
    member.hold(false);
    this.#idle.push(member);
    if (this.#idle.length > 1 && !this.#spareTimer) {
      this.#spareTimer = setTimeout(() => {
        this.#spareTimer = undefined;
        // The most recently used stays; the others go.
        for (const spare of this.#idle.splice(0, this.#idle.length - 1)) spare.kill();
      }, SPARE_IDLE_MS).unref();
    }
  }

  #spawn(): QueryProcess {
    const member = new QueryProcess(this.#source);
    this.#all.add(member);
    void member.gone.then(() => this.#onExit(member));
    return member;
  }

  #onExit(member: QueryProcess): void {
    this.#all.delete(member);
    this.#idle = this.#idle.filter((other) => other !== member);
    if (this.#closed) return;
    // A call already waiting gets a fresh process at once. Otherwise a process killed mid-query (a
    // timeout) is replaced now, idle, so the next call does not wait for a start; one that never
    // started is not retried until a call needs it.
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(this.#spawn());
    else if (member.started) this.warm();
  }
}

function closedError(): Error {
  return new Error("query_database: the sample tools are closed");
}
