import { executionFromRow, type SqlDialect, type SqlExecutor } from "./sql-rows.js";
import type { ContainerLease, StoredExecution } from "./store.js";
import { executionNotFound, fencingError } from "./store-values.js";

// The fence every leased write of the SQL store goes through on its transactional path: the container row is
// locked for the rest of the transaction (so a claim cannot slip in between the check and the write), and the
// write is refused unless the caller's lease (its epoch, the container still live) still holds it.

/** Locks the container row for the rest of the transaction and refuses unless `lease` still holds it. */
export async function fence(tx: SqlExecutor, d: SqlDialect, lease: ContainerLease): Promise<void> {
  const rows = await tx.query(`SELECT status, epoch FROM ptc_containers WHERE id = $1${d.forUpdate}`, [
    lease.containerId,
  ]);
  const row = rows[0];
  const refused = fencingError(
    row && { status: row.status === "live" ? "live" : "ended", epoch: Number(row.epoch) },
    lease,
  );
  if (refused) throw refused;
}

/** `fence`, then the execution, which must belong to the leased container. */
export async function leasedExecution(
  tx: SqlExecutor,
  d: SqlDialect,
  lease: ContainerLease,
  executionId: string,
): Promise<StoredExecution> {
  await fence(tx, d, lease);
  const rows = await tx.query("SELECT * FROM ptc_executions WHERE id = $1 AND container_id = $2", [
    executionId,
    lease.containerId,
  ]);
  if (!rows[0]) throw executionNotFound(executionId);
  return executionFromRow(rows[0]);
}
