import type { ContainerManager, ContainerTurn } from "../../engine/container-manager.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { AdmissionController, AdmissionRelease } from "../admission.js";
import type { ResourceOwners } from "../resource-owners.js";

/**
 * How an execution of the HTTP API gets in: in a named container, a turn behind the executions already
 * there; and an admission slot of the server's one `AdmissionController` for its key. A busy container is
 * waited for first, and only then a slot, so requests piling up on one paused container hold no slot.
 */
export interface ExecutionAdmission {
  /** Aborting it takes the execution out of the admission queue and its container's queue. */
  abort: AbortController;
  /** Its turn in the named container; none yet for a new one. */
  turn: ContainerTurn | undefined;
  /** The slot, when one was free at once. */
  release: AdmissionRelease | undefined;
  /** Otherwise the slot once granted; a rejection is the caller's to handle (it is never unhandled). */
  granted: Promise<AdmissionRelease> | undefined;
}

/**
 * Takes the turn (429 `container_queue_full` when too many wait) and the slot, or a place in the queue for
 * it (429 when the queue, or the key's share of it, is full). Nothing is held when it throws.
 */
export function admitExecution(
  containers: Pick<ContainerManager, "turn">,
  admission: AdmissionController,
  owners: Pick<ResourceOwners, "retryAfterSeconds">,
  owner: string,
  namedContainerId: string | undefined,
): ExecutionAdmission {
  const abort = new AbortController();
  const turn =
    namedContainerId === undefined ? undefined : takeTurn(containers, owners, namedContainerId, abort.signal);
  let release: AdmissionRelease | undefined;
  let granted: Promise<AdmissionRelease> | undefined;
  try {
    if (turn?.waiting) {
      // The container is busy: wait for its turn first, and only then for a slot.
      granted = turn.granted.then(() => {
        if (abort.signal.aborted) throw abort.signal.reason;
        return admission.acquire(abort.signal, owner);
      });
    } else {
      release = admission.tryAcquire(owner);
      if (!release) granted = admission.acquire(abort.signal, owner); // 429 here when the queue is full
    }
  } catch (error) {
    turn?.release();
    throw error;
  }
  granted?.catch(() => {}); // handled by the caller, or never needed when creation fails
  return { abort, turn, release, granted };
}

/** A turn in the container behind its earlier executions: 429 `container_queue_full` when too many wait. */
function takeTurn(
  containers: Pick<ContainerManager, "turn">,
  owners: Pick<ResourceOwners, "retryAfterSeconds">,
  containerId: string,
  signal: AbortSignal,
): ContainerTurn {
  try {
    return containers.turn(containerId, signal);
  } catch (error) {
    if (!PtcError.is(error, ErrorCode.ContainerQueueFull)) throw error;
    throw new PtcError(error.code, error.message, {}, { retryAfterSeconds: owners.retryAfterSeconds });
  }
}
