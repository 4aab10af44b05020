import { anthropicStyleId } from "./random-id.js";

/**
 * Ended containers remembered (so their id answers "expired" rather than "not found") at most this many,
 * this long. 10,000 tombstones are ~2 MB; a day covers a client that resumes the next morning.
 */
export const DEFAULT_MAX_ENDED_CONTAINERS = 10_000;
export const DEFAULT_ENDED_CONTAINER_RETENTION_MS = 24 * 3_600_000;

/**
 * Why a container ended. `expired`: idle past the idle timeout; `evicted`: ended to make room for a newer
 * container of the same owner (quota or server cap); `deleted`: its owner ended it; `closed`: the engine closed.
 */
/**
 * `lost`: its Python state could not be rebuilt (a replay diverged from its journal). `released`: it left
 * this process without ending (a durable store keeps it: idle in memory too long, or another node took it
 * over); no tombstone stays here.
 */
export type ContainerEndReason = "expired" | "evicted" | "deleted" | "closed" | "lost" | "released";

/** One container's bookkeeping: what a durable store keeps, live or ended. */
export interface ContainerRecord {
  readonly id: string;
  /** Who may use it (`ownerOf(apiKey)` on the server); undefined for containers named by an engine caller. */
  readonly owner: string | undefined;
  /** The API that created it (`executions`, `messages`): each answers only for its own containers. */
  readonly origin?: string;
  readonly createdAt: number;
  /** Seeds Python's `random` on the container's first run in a sandbox, so a replay draws the same numbers. */
  readonly seed?: number;
  lastUsedAt: number;
  /** `lastUsedAt` plus the idle timeout: when the idle sweep ends it unless it is used again. */
  expiresAt: number;
  endedAt?: number;
  endReason?: ContainerEndReason;
}

/**
 * The one container id format, for the engine, the executions API and `/v1/messages`: Anthropic's style
 * (`container_01` and 22 base62 characters, as the hosted API's `container_011CZ…`), so an Anthropic client
 * that checks the prefix accepts ours, and the executions API is indifferent to the format.
 */
export function newContainerId(): string {
  return anthropicStyleId("container");
}

/**
 * Where container records live: live ones and bounded tombstones of ended ones. In memory today; a durable
 * store (SQLite, PostgreSQL) implements the same interface. Sandboxes never go through it: the
 * `ContainerManager` maps live ids to sandboxes itself.
 */
export interface ContainerRegistry {
  get(id: string): ContainerRecord | undefined;
  /** Adds a new record or writes back a changed one. */
  put(record: ContainerRecord): void;
  /** Marks the record ended (it stays as a tombstone); false when it is unknown or already ended. */
  end(id: string, reason: ContainerEndReason, at: number): boolean;
  /** Forgets the record, live or ended: its id is unknown from now on. */
  delete(id: string): void;
  live(): Iterable<ContainerRecord>;
  /** Forgets tombstones past the count and age bounds (oldest first). */
  pruneEnded(now: number): void;
}

export interface InMemoryContainerRegistryOptions {
  maxEndedContainers?: number;
  endedContainerRetentionMs?: number;
}

export class InMemoryContainerRegistry implements ContainerRegistry {
  /** Every record by container id: live ones, and tombstones in the order they ended. */
  readonly #records = new Map<string, ContainerRecord>();
  readonly #ended = new Set<string>();
  readonly #maxEnded: number;
  readonly #retentionMs: number;

  constructor(options: InMemoryContainerRegistryOptions = {}) {
    this.#maxEnded = options.maxEndedContainers ?? DEFAULT_MAX_ENDED_CONTAINERS;
    this.#retentionMs = options.endedContainerRetentionMs ?? DEFAULT_ENDED_CONTAINER_RETENTION_MS;
  }

  get(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  put(record: ContainerRecord): void {
    this.#records.set(record.id, record);
  }

  end(id: string, reason: ContainerEndReason, at: number): boolean {
    const record = this.#records.get(id);
    if (!record || record.endedAt !== undefined) return false;
    record.endedAt = at;
    record.endReason = reason;
    this.#ended.add(id);
    // The count bound holds at every end, not only at the next sweep.
    if (this.#ended.size > this.#maxEnded) this.#forgetOldestEnded();
    return true;
  }

  delete(id: string): void {
    this.#records.delete(id);
    this.#ended.delete(id);
  }

  *live(): Iterable<ContainerRecord> {
    for (const record of this.#records.values()) if (record.endedAt === undefined) yield record;
  }

  pruneEnded(now: number): void {
    const cutoff = now - this.#retentionMs;
    // Insertion order is end order: the oldest tombstones come first.
    for (const id of this.#ended) {
      const record = this.#records.get(id);
      if (this.#ended.size <= this.#maxEnded && (record?.endedAt ?? 0) >= cutoff) break;
      this.delete(id);
    }
  }

  #forgetOldestEnded(): void {
    const oldest = this.#ended.values().next();
    if (!oldest.done) this.delete(oldest.value);
  }
}
