import { leasedExecution } from "./sql-fence.js";
import { type JournalWrites, journalWrites } from "./sql-journal-writes.js";
import { callFromRow, oneRow, type SqlDialect, type SqlDriver } from "./sql-rows.js";
import type { CallResult, ContainerLease, JournalCall, NewCall } from "./store.js";
import { callFingerprint, callNotFound, checkSameCall, checkSameResult, conflict, recordable } from "./store-values.js";

/**
 * The SQL store's journal of tool calls (`ptc_journal`), the same statements on SQLite and PostgreSQL. A call
 * and its outcome are each written in one fenced statement in the common case (sql-journal-writes.ts); a
 * repeat, a conflict or a lost lease takes a transaction behind the fence (sql-fence.ts), which says which.
 */
export class SqlJournal {
  readonly #db: SqlDriver;
  readonly #d: SqlDialect;
  readonly #maxBytes: number;
  readonly #writes: JournalWrites;

  constructor(db: SqlDriver, d: SqlDialect, maxRecordedValueBytes: number) {
    this.#db = db;
    this.#d = d;
    this.#maxBytes = maxRecordedValueBytes;
    this.#writes = journalWrites(d);
  }

  async append(lease: ContainerLease, executionId: string, call: NewCall): Promise<JournalCall> {
    const { inputJson, argsSha256 } = callFingerprint(call, this.#maxBytes);
    // The common case in one statement (one round trip, one commit): the lease holds and the call is new.
    // Anything else (fenced out, a repeat, a conflict) finds no row and goes the long way below.
    const fast = await this.#db.query(this.#writes.appendCall, [
      executionId,
      call.guestCallId,
      call.callId,
      call.tool,
      argsSha256,
      inputJson,
      lease.containerId,
      lease.epoch,
    ]);
    if (fast[0]) return callFromRow(fast[0]);
    return this.#db.transaction(async (tx) => {
      await leasedExecution(tx, this.#d, lease, executionId);
      const existing = await tx.query("SELECT * FROM ptc_journal WHERE execution_id = $1 AND guest_call_id = $2", [
        executionId,
        call.guestCallId,
      ]);
      if (existing[0]) {
        const journaled = callFromRow(existing[0]);
        checkSameCall(journaled, call, argsSha256);
        return journaled;
      }
      const sameId = await tx.query("SELECT n FROM ptc_journal WHERE execution_id = $1 AND call_id = $2", [
        executionId,
        call.callId,
      ]);
      if (sameId[0]) throw conflict(`call id ${call.callId} is already journaled in execution ${executionId}`);
      const rows = await tx.query(
        `INSERT INTO ptc_journal (execution_id, n, guest_call_id, call_id, tool, args_sha256, input, called_at)
         SELECT $1, COALESCE(MAX(n), 0) + 1, CAST($2 AS BIGINT), $3, $4, $5, $6, ${this.#d.nowMs} FROM ptc_journal WHERE execution_id = $1
         RETURNING *`,
        [executionId, call.guestCallId, call.callId, call.tool, argsSha256, inputJson],
      );
      return callFromRow(oneRow(rows));
    });
  }

  async recordResult(
    lease: ContainerLease,
    executionId: string,
    guestCallId: number,
    result: CallResult,
  ): Promise<JournalCall> {
    const valueJson = recordable(
      `the result of tool call ${guestCallId} of ${executionId}`,
      result.value,
      this.#maxBytes,
    );
    const fast = await this.#db.query(this.#writes.recordResult, [
      executionId,
      guestCallId,
      result.outcome,
      valueJson,
      lease.containerId,
      lease.epoch,
    ]);
    if (fast[0]) return callFromRow(fast[0]);
    return this.#db.transaction(async (tx) => {
      await leasedExecution(tx, this.#d, lease, executionId);
      const rows = await tx.query("SELECT * FROM ptc_journal WHERE execution_id = $1 AND guest_call_id = $2", [
        executionId,
        guestCallId,
      ]);
      if (!rows[0]) throw callNotFound(executionId, guestCallId);
      const journaled = callFromRow(rows[0]);
      if (journaled.outcome !== undefined) {
        checkSameResult(journaled, result, valueJson);
        return journaled;
      }
      const updated = await tx.query(
        `UPDATE ptc_journal SET outcome = $3, value = $4, completed_at = ${this.#d.nowMs}, completed_order = (
           SELECT COALESCE(MAX(completed_order), 0) + 1 FROM ptc_journal WHERE execution_id = $1)
         WHERE execution_id = $1 AND guest_call_id = $2 RETURNING *`,
        [executionId, guestCallId, result.outcome, valueJson],
      );
      return callFromRow(oneRow(updated));
    });
  }

  async calls(executionId: string): Promise<JournalCall[]> {
    const rows = await this.#db.query("SELECT * FROM ptc_journal WHERE execution_id = $1 ORDER BY n", [executionId]);
    return rows.map(callFromRow);
  }
}
