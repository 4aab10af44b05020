import { newContainerId } from "../../engine/container-manager.js";
import type { Engine } from "../../engine/engine.js";
import type { ContainerHolder, LiveContainer, ResourceOwners } from "../resource-owners.js";
import { HttpError, WireErrorCode } from "./wire-errors.js";

/** Live containers per server; the cap and the per-key quota are `ResourceOwners`' (both endpoints together). */
export { DEFAULT_MAX_CONTAINERS, DEFAULT_MAX_CONTAINERS_PER_KEY } from "../resource-owners.js";
/** Ended containers remembered (so their id answers 410, not 404) at most this many, this long. */
export const DEFAULT_MAX_EXPIRED_CONTAINERS = 10_000;
export const DEFAULT_EXPIRED_CONTAINER_RETENTION_MS = 24 * 3_600_000;

export interface ContainerRecord {
  id: string;
  owner: string;
  createdAt: number;
  lastUsed: number;
  /** Executions of ours queued or running in it: it is alive even before the engine knows it. */
  active: number;
  endedAt?: number;
  endReason?: "expired" | "evicted" | "deleted";
}

export interface ContainerView {
  id: string;
  status: "active" | "busy";
  createdAt: number;
  lastUsed: number;
  expiresAt: number;
}

export interface ContainerRecordsOptions {
  /** The engine's `containerIdleTimeoutMs`, to report when a container expires. */
  containerIdleTimeoutMs: number;
}

/**
 * The containers of the executions API: who owns each, whether it is alive (ours or the engine's),
 * and tombstones of ended ones so their ids answer 410 rather than 404. Its live containers count
 * against `ResourceOwners`' container cap and per-key quota.
 */
export class ContainerRecords implements ContainerHolder {
  readonly #records = new Map<string, ContainerRecord>();
  /** Stops counting these containers (at shutdown). */
  readonly detach: () => void;

  constructor(
    private readonly engine: Engine,
    private readonly owners: ResourceOwners,
    private readonly options: ContainerRecordsOptions,
  ) {
    this.detach = owners.addContainerHolder(this);
  }

  /** A record by id, whoever owns it (for bookkeeping, never for answering a request). */
  get(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  liveCount(): number {
    let live = 0;
    for (const record of this.#records.values()) if (this.alive(record)) live++;
    return live;
  }

  /** The owner's container record, live or ended; 404 for unknown ids and other owners' containers. */
  lookup(owner: string, id: string): ContainerRecord {
    const record = this.#records.get(id);
    if (!record || record.owner !== owner || !this.owners.owns("container", id, owner)) {
      throw new HttpError(404, WireErrorCode.NotFound, `container ${id} not found`);
    }
    if (record.endedAt === undefined && !this.alive(record)) this.#markEnded(record, "expired");
    return record;
  }

  /** The owner's container if alive; 410 if it existed and ended; 404 otherwise. */
  live(owner: string, id: string): ContainerRecord {
    const record = this.lookup(owner, id);
    if (record.endedAt !== undefined) {
      const why =
        record.endReason === "evicted" ? "was ended to make room for newer containers of this API key" : "expired";
      throw new HttpError(410, WireErrorCode.ContainerExpired, `container ${id} ${why}; its Python state is gone`);
    }
    return record;
  }

  describe(record: ContainerRecord): ContainerView {
    const info = this.engine.inspectContainer(record.id);
    const lastUsed = Math.max(record.lastUsed, info?.lastUsed ?? 0);
    const busy = record.active > 0 || info?.busy === true;
    return {
      id: record.id,
      status: busy ? "busy" : "active",
      createdAt: record.createdAt,
      lastUsed,
      expiresAt: lastUsed + this.options.containerIdleTimeoutMs,
    };
  }

  /**
   * A new container record for `owner`. It counts against the cap only once its first execution starts
   * (`makeRoomFor`): a queued execution holds no sandbox, so the admission queue, not the cap, bounds them.
   */
  create(owner: string): ContainerRecord {
    const id = newContainerId();
    this.owners.claim("container", id, owner);
    const record: ContainerRecord = { id, owner, createdAt: Date.now(), lastUsed: Date.now(), active: 0 };
    this.#records.set(id, record);
    return record;
  }

  alive(record: ContainerRecord): boolean {
    return record.endedAt === undefined && (record.active > 0 || this.engine.hasContainer(record.id));
  }

  /** Drops the record: its id answers 404 from now on. */
  forget(record: ContainerRecord): void {
    this.#records.delete(record.id);
    this.owners.release("container", record.id);
  }

  /** Marks expired containers ended and forgets tombstones past their count and age bounds. */
  sweep(): void {
    const tombstones: ContainerRecord[] = [];
    for (const record of this.#records.values()) {
      if (record.endedAt === undefined && !this.alive(record)) this.#markEnded(record, "expired");
      if (record.endedAt !== undefined) tombstones.push(record);
    }
    const cutoff = Date.now() - DEFAULT_EXPIRED_CONTAINER_RETENTION_MS;
    const excess = tombstones.length - DEFAULT_MAX_EXPIRED_CONTAINERS;
    tombstones
      .sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0))
      .forEach((record, index) => {
        if (index < excess || (record.endedAt ?? 0) < cutoff) this.forget(record);
      });
  }

  /** Containers holding a sandbox (`ContainerHolder`): a queued execution's new container holds none yet. */
  *liveContainers(): Iterable<LiveContainer> {
    for (const record of this.#records.values()) {
      if (record.endedAt !== undefined || !this.engine.hasContainer(record.id)) continue;
      const view = this.describe(record);
      yield { id: record.id, owner: record.owner, lastUsed: view.lastUsed, idle: view.status === "active" };
    }
  }

  /** Ends an idle container to make room for a newer one of the same key (`ContainerHolder`); its id answers 410. */
  endContainer(id: string): void {
    const record = this.#records.get(id);
    this.engine.closeContainer(id);
    if (record && record.endedAt === undefined) this.#markEnded(record, "evicted");
  }

  /**
   * Before an execution starts in `record`: when it has no sandbox yet, makes room for it under the
   * server's container cap and its key's quota (`ResourceOwners.makeRoomForContainer`: only the key's own
   * least recently used idle container is ever ended; 429 `key_container_quota_exceeded` or
   * `container_cap_reached` when it has none).
   */
  makeRoomFor(record: ContainerRecord): void {
    if (this.engine.hasContainer(record.id)) return;
    this.owners.makeRoomForContainer(record.owner, record.id);
  }

  #markEnded(record: ContainerRecord, reason: NonNullable<ContainerRecord["endReason"]>): void {
    record.endedAt = Date.now();
    record.endReason = reason;
  }
}
