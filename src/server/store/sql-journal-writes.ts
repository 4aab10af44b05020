// The two writes on every tool call's path, in the common case, as one statement each: the lease holds and
// the call is new (or its outcome is). The fence is a read of the container row `FOR SHARE` inside the
// statement, which a claim's UPDATE conflicts with just as with the transaction's `FOR UPDATE` (sql-fence.ts),
// so the write serializes with a claim. Anything else (fenced out, a repeat, a conflict) finds no row and
// the store takes its transaction, which says why. Built once per store: the text is the prepared
// statement's name on PostgreSQL.
import type { SqlDialect } from "./sql-rows.js";

export interface JournalWrites {
  /** $1 execution, $2 guest call id, $3 call id, $4 tool, $5 args hash, $6 input JSON, $7 container, $8 epoch. */
  readonly appendCall: string;
  /** $1 execution, $2 guest call id, $3 outcome, $4 value JSON, $5 container, $6 epoch. */
  readonly recordResult: string;
}

export function journalWrites(d: SqlDialect): JournalWrites {
  const fence = (container: string, epoch: string) => `WITH fence AS (
         SELECT c.id FROM ptc_containers c
         WHERE c.id = ${container} AND c.epoch = ${epoch} AND c.status = 'live'${d.forShare})`;
  return {
    appendCall: `${fence("$7", "$8")}
       INSERT INTO ptc_journal (execution_id, n, guest_call_id, call_id, tool, args_sha256, input, called_at)
       SELECT $1, COALESCE((SELECT MAX(n) FROM ptc_journal WHERE execution_id = $1), 0) + 1,
         CAST($2 AS BIGINT), $3, $4, $5, $6, ${d.nowMs}
       FROM fence JOIN ptc_executions e ON e.container_id = fence.id AND e.id = $1
       WHERE NOT EXISTS (SELECT 1 FROM ptc_journal WHERE execution_id = $1 AND (guest_call_id = $2 OR call_id = $3))
       RETURNING *`,
    recordResult: `${fence("$5", "$6")}
       UPDATE ptc_journal SET outcome = $3, value = $4, completed_at = ${d.nowMs}, completed_order = (
           SELECT COALESCE(MAX(completed_order), 0) + 1 FROM ptc_journal WHERE execution_id = $1)
       WHERE execution_id = $1 AND guest_call_id = $2 AND outcome IS NULL
         AND EXISTS (SELECT 1 FROM fence JOIN ptc_executions e ON e.container_id = fence.id AND e.id = $1)
       RETURNING *`,
  };
}
