import type { ContainerEndReason } from "../../engine/container-registry.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import { fence, leasedExecution } from "./sql-fence.js";
import { SqlJournal } from "./sql-journal.js";
import * as responses from "./sql-responses.js";
import {
  callFromRow,
  containerFromRow,
  executionFromRow,
  oneRow,
  type SqlDialect,
  type SqlDriver,
  workerFromRow,
} from "./sql-rows.js";
import { migrate } from "./sql-schema.js";
import {
  type CallResult,
  type ContainerLease,
  DEFAULT_SWEEP_LIMIT,
  type EndedContainerBounds,
  type ExecutionFinish,
  type ExecutionHistory,
  type JournalCall,
  type NewCall,
  type NewContainer,
  type NewExecution,
  resolveStoreOptions,
  type Store,
  type StoredContainer,
  type StoredExecution,
  type StoredResponse,
  type StoredResponseBounds,
  type StoreOptions,
  type WorkerRecord,
} from "./store.js";
import { checkRecordable, conflict, recordable } from "./store-values.js";

/**
 * The store on a SQL database, the same statements on SQLite and PostgreSQL. What each guarantee rests on:
 * every write that must be atomic is one transaction; a fenced write first locks the container row and checks
 * its epoch and status in that transaction (so a claim cannot slip in between the check and the write); a
 * claim is one compare-and-set `UPDATE`; sweepers take rows with `FOR UPDATE SKIP LOCKED` (SQLite has one
 * writer at a time, so a plain transaction does). Times come from the database's clock.
 */
export class SqlStore implements Store {
  /** Migrates the database and wraps it; the driver is closed if the migration fails. */
  static async open(driver: SqlDriver, dialect: SqlDialect, options: StoreOptions = {}): Promise<SqlStore> {
    try {
      await migrate(driver, dialect);
    } catch (error) {
      await driver.close();
      throw error;
    }
    return new SqlStore(driver, dialect, options);
  }

  readonly kind: "sqlite" | "postgres";
  readonly #db: SqlDriver;
  readonly #d: SqlDialect;
  readonly #maxBytes: number;
  readonly #leaseTtlMs: number;
  readonly #journal: SqlJournal;

  constructor(driver: SqlDriver, dialect: SqlDialect, options: StoreOptions = {}) {
    this.#db = driver;
    this.#d = dialect;
    this.kind = dialect.kind;
    ({ maxRecordedValueBytes: this.#maxBytes, leaseTtlMs: this.#leaseTtlMs } = resolveStoreOptions(options));
    this.#journal = new SqlJournal(driver, dialect, this.#maxBytes);
  }

  async createContainer(c: NewContainer): Promise<StoredContainer> {
    const now = this.#d.nowMs;
    const rows = await this.#db.query(
      `INSERT INTO ptc_containers (id, owner, origin, status, epoch, seed, owner_node, created_at, last_used_at, expires_at)
       VALUES ($1, $2, $3, 'live', 1, $4, $5, ${now}, ${now}, ${now} + $6)
       ON CONFLICT (id) DO NOTHING RETURNING *`,
      [c.id, c.owner ?? null, c.origin ?? null, c.seed, c.ownerNode, c.idleTimeoutMs],
    );
    const row = rows[0];
    if (!row) throw conflict(`container ${c.id} already exists`);
    return containerFromRow(row);
  }

  async getContainer(id: string): Promise<StoredContainer | undefined> {
    const rows = await this.#db.query("SELECT * FROM ptc_containers WHERE id = $1", [id]);
    return rows[0] && containerFromRow(rows[0]);
  }

  async liveContainers(ownerNode?: string): Promise<StoredContainer[]> {
    const rows =
      ownerNode === undefined
        ? await this.#db.query("SELECT * FROM ptc_containers WHERE status = 'live' ORDER BY created_at, id")
        : await this.#db.query(
            "SELECT * FROM ptc_containers WHERE status = 'live' AND owner_node = $1 ORDER BY created_at, id",
            [ownerNode],
          );
    return rows.map(containerFromRow);
  }

  async claimContainer(id: string, node: string, seenEpoch: number): Promise<StoredContainer | undefined> {
    // One compare-and-set: of two claims that saw the same epoch, the second finds it moved and changes nothing.
    const rows = await this.#db.query(
      `UPDATE ptc_containers SET owner_node = $2, epoch = epoch + 1
       WHERE id = $1 AND epoch = $3 AND status = 'live'
         AND (owner_node IS NULL OR owner_node = $2 OR NOT EXISTS (
           SELECT 1 FROM ptc_workers w
           WHERE w.id = ptc_containers.owner_node AND w.heartbeat_at > ${this.#d.nowMs} - $4))
       RETURNING *`,
      [id, node, seenEpoch, this.#leaseTtlMs],
    );
    return rows[0] && containerFromRow(rows[0]);
  }

  async touchContainer(lease: ContainerLease, idleTimeoutMs: number): Promise<StoredContainer> {
    return this.#db.transaction(async (tx) => {
      await fence(tx, this.#d, lease);
      const now = this.#d.nowMs;
      const rows = await tx.query(
        `UPDATE ptc_containers SET last_used_at = ${now}, expires_at = ${now} + $2 WHERE id = $1 RETURNING *`,
        [lease.containerId, idleTimeoutMs],
      );
      return containerFromRow(oneRow(rows));
    });
  }

  async endContainer(id: string, reason: ContainerEndReason, lease?: ContainerLease): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      if (lease) await fence(tx, this.#d, lease);
      const rows = await tx.query(
        `UPDATE ptc_containers SET status = 'ended', end_reason = $2, ended_at = ${this.#d.nowMs}
         WHERE id = $1 AND status = 'live' RETURNING id`,
        [id, reason],
      );
      return rows.length > 0;
    });
  }

  async deleteContainer(id: string): Promise<void> {
    await this.#db.query("DELETE FROM ptc_containers WHERE id = $1", [id]);
  }

  async sweepExpired(limit = DEFAULT_SWEEP_LIMIT): Promise<StoredContainer[]> {
    const now = this.#d.nowMs;
    const rows = await this.#db.query(
      `UPDATE ptc_containers SET status = 'ended', end_reason = 'expired', ended_at = ${now}
       WHERE status = 'live' AND id IN (
         SELECT id FROM ptc_containers WHERE status = 'live' AND expires_at <= ${now}
         ORDER BY expires_at LIMIT $1${this.#d.forUpdateSkipLocked})
       RETURNING *`,
      [limit],
    );
    return rows.map(containerFromRow);
  }

  async pruneEnded(bounds: EndedContainerBounds): Promise<number> {
    const rows = await this.#db.query(
      `DELETE FROM ptc_containers WHERE status = 'ended' AND (ended_at < ${this.#d.nowMs} - $1 OR id NOT IN (
         SELECT id FROM ptc_containers WHERE status = 'ended' ORDER BY ended_at DESC, id DESC LIMIT $2))
       RETURNING id`,
      [bounds.endedContainerRetentionMs, Math.max(0, bounds.maxEndedContainers)],
    );
    return rows.length;
  }

  async createExecution(lease: ContainerLease, e: NewExecution): Promise<StoredExecution> {
    checkRecordable(`the code of execution ${e.id}`, e.code, this.#maxBytes);
    const options = recordable(`the options of execution ${e.id}`, e.options ?? {}, this.#maxBytes);
    return this.#db.transaction(async (tx) => {
      await fence(tx, this.#d, lease);
      // The container row is locked: no other execution of it can take the same ordinal meanwhile.
      const next = await tx.query(
        "SELECT COALESCE(MAX(ordinal), 0) + 1 AS next FROM ptc_executions WHERE container_id = $1",
        [lease.containerId],
      );
      const rows = await tx.query(
        `INSERT INTO ptc_executions (id, container_id, ordinal, code, language, options, status, api_key_owner, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, ${this.#d.nowMs})
         ON CONFLICT (id) DO NOTHING RETURNING *`,
        [e.id, lease.containerId, Number(oneRow(next).next), e.code, e.language, options, e.apiKeyOwner ?? null],
      );
      const row = rows[0];
      if (!row) throw conflict(`execution ${e.id} already exists`);
      return executionFromRow(row);
    });
  }

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    const rows = await this.#db.query("SELECT * FROM ptc_executions WHERE id = $1", [id]);
    return rows[0] && executionFromRow(rows[0]);
  }

  async setExecutionStatus(lease: ContainerLease, id: string, status: "running" | "paused"): Promise<StoredExecution> {
    return this.#db.transaction(async (tx) => {
      const current = await leasedExecution(tx, this.#d, lease, id);
      if (current.status === "done" || current.status === "failed") {
        throw conflict(`execution ${id} has finished (${current.status})`, { executionId: id, status: current.status });
      }
      const rows = await tx.query("UPDATE ptc_executions SET status = $2 WHERE id = $1 RETURNING *", [id, status]);
      return executionFromRow(oneRow(rows));
    });
  }

  async finishExecution(lease: ContainerLease, id: string, finish: ExecutionFinish): Promise<StoredExecution> {
    const resultJson = recordable(`the result of execution ${id}`, finish.result, this.#maxBytes);
    return this.#db.transaction(async (tx) => {
      const current = await leasedExecution(tx, this.#d, lease, id);
      if (current.status === "done" || current.status === "failed") {
        const stored = await tx.query("SELECT result FROM ptc_executions WHERE id = $1", [id]);
        if (current.status === finish.status && oneRow(stored).result === resultJson) return current;
        throw conflict(`execution ${id} already finished with another result`, {
          executionId: id,
          status: current.status,
        });
      }
      const rows = await tx.query(
        `UPDATE ptc_executions SET status = $2, result = $3, finished_at = ${this.#d.nowMs} WHERE id = $1 RETURNING *`,
        [id, finish.status, resultJson],
      );
      return executionFromRow(oneRow(rows));
    });
  }

  async containerHistory(containerId: string): Promise<ExecutionHistory[]> {
    // One transaction, so the executions and their journals are one consistent snapshot.
    return this.#db.transaction(async (tx) => {
      const executions = await tx.query("SELECT * FROM ptc_executions WHERE container_id = $1 ORDER BY ordinal", [
        containerId,
      ]);
      const calls = await tx.query(
        `SELECT j.* FROM ptc_journal j JOIN ptc_executions e ON e.id = j.execution_id
         WHERE e.container_id = $1 ORDER BY e.ordinal, j.n`,
        [containerId],
      );
      const byExecution = new Map<string, JournalCall[]>();
      for (const row of calls) {
        const call = callFromRow(row);
        const list = byExecution.get(call.executionId) ?? [];
        list.push(call);
        byExecution.set(call.executionId, list);
      }
      return executions.map((row) => {
        const execution = executionFromRow(row);
        return { execution, calls: byExecution.get(execution.id) ?? [] };
      });
    });
  }

  appendCall(lease: ContainerLease, executionId: string, call: NewCall): Promise<JournalCall> {
    return this.#journal.append(lease, executionId, call);
  }

  recordCallResult(
    lease: ContainerLease,
    executionId: string,
    guestCallId: number,
    result: CallResult,
  ): Promise<JournalCall> {
    return this.#journal.recordResult(lease, executionId, guestCallId, result);
  }

  journal(executionId: string): Promise<JournalCall[]> {
    return this.#journal.calls(executionId);
  }

  saveResponse(response: StoredResponse, bounds: StoredResponseBounds): Promise<void> {
    return responses.saveResponse(this.#db, this.#d, this.#maxBytes, response, bounds);
  }

  getResponse(id: string): Promise<StoredResponse | undefined> {
    return responses.getResponse(this.#db, id);
  }

  getResponseItem(id: string, owner: string): Promise<JsonValue | undefined> {
    return responses.getResponseItem(this.#db, id, owner);
  }

  deleteResponse(id: string, owner: string): Promise<boolean> {
    return responses.deleteResponse(this.#db, id, owner);
  }

  pruneResponses(retentionMs: number, limit: number): Promise<number> {
    return responses.pruneResponses(this.#db, this.#d, retentionMs, limit);
  }

  async heartbeat(nodeId: string, url: string): Promise<WorkerRecord> {
    const rows = await this.#db.query(
      `INSERT INTO ptc_workers (id, url, heartbeat_at) VALUES ($1, $2, ${this.#d.nowMs})
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, heartbeat_at = excluded.heartbeat_at
       RETURNING id, url, heartbeat_at`,
      [nodeId, url],
    );
    return { ...workerFromRow(oneRow(rows)), alive: true };
  }

  async workers(): Promise<WorkerRecord[]> {
    const rows = await this.#db.query(
      `SELECT id, url, heartbeat_at, heartbeat_at > ${this.#d.nowMs} - $1 AS alive FROM ptc_workers ORDER BY id`,
      [this.#leaseTtlMs],
    );
    return rows.map(workerFromRow);
  }

  async removeWorker(nodeId: string): Promise<void> {
    await this.#db.query("DELETE FROM ptc_workers WHERE id = $1", [nodeId]);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
