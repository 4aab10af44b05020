// What a durable node answers when an API asks where a container's work happens (`DurableNode.place`).
import type { ContainerTurn } from "../../engine/container-manager.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import type { RestoreReport } from "../../engine/replay.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { StoredContainer, StoredExecution } from "../store/store.js";

/** The execution that was unfinished when its container left its last node, running again here. */
export interface ResumedExecution {
  stored: StoredExecution;
  handle: ExecutionHandle;
  /** The turn it runs in: the API keeps it while it waits for the execution, or releases it. */
  turn: ContainerTurn;
  restore: RestoreReport;
}

/** Where a container's work happens now, as seen from this node. */
export type Placement =
  | { kind: "local"; resumed?: ResumedExecution }
  | { kind: "remote"; nodeId: string; url: string }
  | { kind: "ended"; stored: StoredContainer }
  | { kind: "unknown" };

/** Another node claimed the container between this node's read and its claim: the client retries. */
export function nodeBusy(id: string, leaseTtlMs: number): PtcError {
  return new PtcError(
    ErrorCode.StoreUnavailable,
    `container ${id} is being taken over by another node; retry`,
    {},
    { retryAfterSeconds: Math.max(1, Math.ceil(leaseTtlMs / 3_000)) },
  );
}
