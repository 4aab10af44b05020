import type { ContainerManager } from "../../engine/container-manager.js";
import type { ContainerRecord } from "../../engine/container-registry.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";

/** Live containers per server; the cap and the per-key quota are `ResourceOwners`' (both endpoints together). */
export { DEFAULT_MAX_CONTAINERS, DEFAULT_MAX_CONTAINERS_PER_KEY } from "../resource-owners.js";

/** The executions API's containers in the engine's `ContainerManager` (`/v1/messages`' are not its). */
export const EXECUTIONS_ORIGIN = "executions";

export interface ContainerView {
  id: string;
  status: "active" | "busy";
  createdAt: number;
  lastUsed: number;
  expiresAt: number;
}

/**
 * The executions API's view of the engine's containers: 404 for unknown ids, other keys' and other APIs'
 * containers; 410 for ended ones (the manager's tombstones). It keeps no state of its own.
 */
export class ContainerRecords {
  constructor(private readonly containers: ContainerManager) {}

  /** A new container of `owner`; it counts against the quota once its first execution starts (`makeRoom`). */
  create(owner: string): Readonly<ContainerRecord> {
    return this.containers.create(owner, { origin: EXECUTIONS_ORIGIN });
  }

  /** The owner's container record, live or ended; 404 for unknown ids and other owners' containers. */
  lookup(owner: string, id: string): Readonly<ContainerRecord> {
    const record = this.containers.record(id);
    if (!record || record.owner !== owner || record.origin !== EXECUTIONS_ORIGIN) {
      throw new PtcError(ErrorCode.NotFound, `container ${id} not found`);
    }
    return record;
  }

  /** The owner's container if alive; 410 if it existed and ended; 404 otherwise. */
  live(owner: string, id: string): Readonly<ContainerRecord> {
    const record = this.lookup(owner, id);
    if (record.endedAt !== undefined) {
      const why =
        record.endReason === "evicted"
          ? "was ended to make room for newer containers of this API key"
          : record.endReason === "lost"
            ? "was lost (rebuilding it by replay diverged from its journal)"
            : "expired";
      throw new PtcError(ErrorCode.ContainerExpired, `container ${id} ${why}; its Python state is gone`);
    }
    return record;
  }

  describe(record: Readonly<ContainerRecord>): ContainerView {
    const busy = this.containers.inspect(record.id)?.busy === true;
    return {
      id: record.id,
      status: busy ? "busy" : "active",
      createdAt: record.createdAt,
      lastUsed: record.lastUsedAt,
      expiresAt: record.expiresAt,
    };
  }

  liveCount(): number {
    let live = 0;
    for (const id of this.containers.ids()) if (this.containers.record(id)?.origin === EXECUTIONS_ORIGIN) live++;
    return live;
  }
}
