import type BetterSqlite3 from "better-sqlite3";
import type { SqlDriver, SqlExecutor, SqlParam, SqlRow } from "./sql-rows.js";

/** One caller's statement or transaction, waiting for its batch's commit. */
interface Unit {
  work: (tx: SqlExecutor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A unit's outcome inside the batch; settled only once the batch has committed (or failed). */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const SAVEPOINT = "SAVEPOINT ptc_unit";
const RELEASE = "RELEASE ptc_unit";
const ROLLBACK_UNIT = "ROLLBACK TO ptc_unit";

/**
 * better-sqlite3 is synchronous and each commit of the file (`synchronous = FULL`) waits for its fsync on the
 * host's one thread: under a burst of executions through `ptc serve`, ~2 ms a commit and ~6-8 commits an
 * execution (its journal's call and result, the container, the execution), ~40 ms of the event loop blocked
 * per execution, during which no tool call is dispatched and no sandbox handed over (BENCHMARKS.md, stop 33).
 *
 * Group commit: every statement and transaction callers issue in the same turn of the event loop (and while a
 * batch runs) runs in one `BEGIN IMMEDIATE` … `COMMIT`, each in a savepoint of its own, in the order they were
 * issued, so one fsync covers them all. A unit that fails is rolled back to its savepoint and fails alone, as
 * its own transaction would have; if SQLite ends the whole transaction (an I/O error, a full disk) or the
 * commit fails, every unit of the batch fails with it. Nothing is answered before the commit: a write is
 * durable when its caller hears of it. A transaction's work runs between its savepoint and its release with
 * the batch holding the write lock, so nothing else interleaves with it; its awaits are this executor's
 * statements, which run at once.
 */
export class GroupCommitDriver implements SqlDriver {
  readonly #db: BetterSqlite3.Database;
  readonly #run: (sql: string, params: readonly SqlParam[]) => SqlRow[];
  readonly #mapError: (error: unknown) => unknown;
  #pending: Unit[] = [];
  /** The batch running or scheduled, if any: a new one is scheduled when it settles with units waiting. */
  #flushing: Promise<void> | null = null;
  readonly #executor: SqlExecutor;

  constructor(
    db: BetterSqlite3.Database,
    run: (sql: string, params: readonly SqlParam[]) => SqlRow[],
    mapError: (error: unknown) => unknown,
  ) {
    this.#db = db;
    this.#run = run;
    this.#mapError = mapError;
    this.#executor = { query: async (sql, params = []) => this.#run(sql, params) };
  }

  query(sql: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
    return this.#enqueue(async (tx) => tx.query(sql, params)) as Promise<SqlRow[]>;
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#enqueue(work) as Promise<T>;
  }

  async close(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    this.#db.close();
  }

  #enqueue(work: (tx: SqlExecutor) => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ work, resolve, reject });
      this.#flushing ??= this.#schedule();
    });
  }

  /** Runs batches until nothing waits; the first after the current turn, so the turn's statements join it. */
  async #schedule(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const units = this.#pending;
        this.#pending = [];
        await this.#commit(units);
      }
    } finally {
      this.#flushing = null;
    }
  }

  async #commit(units: Unit[]): Promise<void> {
    const outcomes: Outcome[] = [];
    let failure: { error: unknown } | null = null;
    try {
      this.#run("BEGIN IMMEDIATE", []);
    } catch (error) {
      failure = { error };
    }
    for (const unit of units) {
      if (failure !== null) break;
      try {
        this.#run(SAVEPOINT, []);
        const value = await unit.work(this.#executor);
        this.#run(RELEASE, []);
        outcomes.push({ ok: true, value });
      } catch (error) {
        // SQLite may have ended the whole transaction (SQLITE_FULL, an I/O error): then every unit is lost.
        if (!this.#db.inTransaction) {
          failure = { error };
          break;
        }
        try {
          this.#run(ROLLBACK_UNIT, []);
          this.#run(RELEASE, []);
        } catch (rollbackError) {
          failure = { error: rollbackError };
          break;
        }
        outcomes.push({ ok: false, error });
      }
    }
    if (failure === null) {
      try {
        this.#run("COMMIT", []);
      } catch (error) {
        failure = { error };
      }
    }
    if (failure !== null) {
      if (this.#db.open && this.#db.inTransaction) {
        try {
          this.#db.exec("ROLLBACK");
        } catch {}
      }
      const error = this.#mapError(failure.error);
      for (const unit of units) unit.reject(error);
      return;
    }
    units.forEach((unit, index) => {
      const outcome = outcomes[index] as Outcome;
      if (outcome.ok) unit.resolve(outcome.value);
      else unit.reject(this.#mapError(outcome.error));
    });
  }
}
