import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { HttpError, WireErrorCode } from "./http/wire-errors.js";

export type OwnedKind = "container" | "execution";

/** Live containers per server (each keeps a sandbox), both endpoints together. */
export const DEFAULT_MAX_CONTAINERS = 32;
/**
 * Live containers one key may hold: half the server's, so however many containers one key starts, the
 * others keep room; past it the key's own least recently used idle container is ended (never another
 * key's). `ptc serve` with a single API key gives it the whole server cap instead (nobody to share with).
 */
export const DEFAULT_MAX_CONTAINERS_PER_KEY = perKeyShare(DEFAULT_MAX_CONTAINERS);
/** `Retry-After` (seconds) of every 429 the server's capacity limits answer. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

/** The default per-key share of a server-wide cap: half of it, rounded up (so at least 1 of a cap ≥ 1). */
export function perKeyShare(serverCap: number): number {
  return Math.ceil(serverCap / 2);
}

export interface ContainerLimits {
  /** Live containers on the server. Default `DEFAULT_MAX_CONTAINERS`. */
  maxContainers?: number;
  /** Live containers of one key. Default half of `maxContainers` (`perKeyShare`); at most `maxContainers`. */
  maxContainersPerKey?: number;
  /** `Retry-After` of the 429s. Default `DEFAULT_RETRY_AFTER_SECONDS`. */
  retryAfterSeconds?: number;
}

/** A container that holds (or is about to hold) a sandbox, as its store reports it. */
export interface LiveContainer {
  id: string;
  owner: string;
  lastUsed: number;
  /** Nothing runs, waits or is paused in it: ending it loses only its Python state. */
  idle: boolean;
}

/** A store of containers (the executions API's, `/v1/messages`'): what is live, and how to end one. */
export interface ContainerHolder {
  liveContainers(): Iterable<LiveContainer>;
  /** Ends one of its idle containers to make room (its id then answers "expired"/410). */
  endContainer(id: string): void;
}

/**
 * A container refused for capacity: 429 with `Retry-After`, code `key_container_quota_exceeded` (the key
 * holds its share and none of its containers is idle) or `container_cap_reached` (the server holds its cap
 * and none of the key's containers is idle: other keys' containers are never ended to make room).
 */
export class ContainerQuotaError extends HttpError {
  constructor(
    code: typeof WireErrorCode.KeyContainerQuotaExceeded | typeof WireErrorCode.ContainerCapReached,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, code, message, { "retry-after": String(retryAfterSeconds) });
  }
}

/**
 * Who created each container and execution. Every lookup goes through `owns`, and a resource owned by
 * another key is reported exactly like an unknown one, so ids cannot be probed across keys.
 *
 * Also the server's one account of live containers: each store that keeps containers registers as a
 * `ContainerHolder`, and asks `makeRoomForContainer` before a new container takes a sandbox, so the
 * server cap and the per-key quota hold across both endpoints.
 */
export class ResourceOwners {
  readonly #owners = new Map<string, string>();
  readonly #holders = new Set<ContainerHolder>();
  readonly maxContainers: number;
  readonly maxContainersPerKey: number;
  readonly retryAfterSeconds: number;

  constructor(limits: ContainerLimits = {}) {
    this.maxContainers = limits.maxContainers ?? DEFAULT_MAX_CONTAINERS;
    this.maxContainersPerKey = Math.min(
      limits.maxContainersPerKey ?? perKeyShare(this.maxContainers),
      this.maxContainers,
    );
    this.retryAfterSeconds = limits.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    if (!(this.maxContainers >= 1) || !(this.maxContainersPerKey >= 1)) {
      throw new Error("container limits need maxContainers ≥ 1 and maxContainersPerKey ≥ 1");
    }
  }

  /** Records `owner` for a new id; false when another owner already has it. */
  claim(kind: OwnedKind, id: string, owner: string): boolean {
    const key = `${kind}:${id}`;
    const current = this.#owners.get(key);
    if (current !== undefined) return current === owner;
    this.#owners.set(key, owner);
    return true;
  }

  owns(kind: OwnedKind, id: string, owner: string): boolean {
    return this.#owners.get(`${kind}:${id}`) === owner;
  }

  /** True when nobody has claimed the id yet (a client may name a new container). */
  isFree(kind: OwnedKind, id: string): boolean {
    return !this.#owners.has(`${kind}:${id}`);
  }

  release(kind: OwnedKind, id: string): void {
    this.#owners.delete(`${kind}:${id}`);
  }

  /** Counts `holder`'s containers against the limits from now on; the returned function stops it. */
  addContainerHolder(holder: ContainerHolder): () => void {
    this.#holders.add(holder);
    return () => this.#holders.delete(holder);
  }

  /** Live containers: on the server, and of `owner`. */
  containerCounts(owner?: string): { live: number; owned: number } {
    const live = this.#live();
    return { live: live.length, owned: live.filter((entry) => entry.owner === owner).length };
  }

  /**
   * Before container `id` of `owner` takes a sandbox: while the key holds its quota or the server its cap,
   * ends the key's own least recently used idle container, never another key's. Throws
   * `ContainerQuotaError` (429) when the key has no idle container left to end.
   */
  makeRoomForContainer(owner: string, id: string): void {
    const ended = new Set<string>();
    for (;;) {
      const live = this.#live().filter((entry) => entry.id !== id && !ended.has(entry.id));
      const refusal = this.#refusal(owner, live);
      if (!refusal) return;
      const victim = live
        .filter((entry) => entry.owner === owner && entry.idle)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim) throw refusal;
      ended.add(victim.id);
      victim.holder.endContainer(victim.id);
    }
  }

  /**
   * Throws what `makeRoomForContainer` would throw now, ending nothing: lets a request for a new container
   * be refused before it is queued, when the key could not get one even if a slot were free.
   */
  checkContainerRoom(owner: string): void {
    const live = this.#live();
    const refusal = this.#refusal(owner, live);
    if (refusal && !live.some((entry) => entry.owner === owner && entry.idle)) throw refusal;
  }

  #refusal(owner: string, live: ReadonlyArray<LiveContainer>): ContainerQuotaError | undefined {
    const owned = live.filter((entry) => entry.owner === owner).length;
    if (owned >= this.maxContainersPerKey) {
      return new ContainerQuotaError(
        WireErrorCode.KeyContainerQuotaExceeded,
        `this API key holds ${owned} live containers (its quota is ${this.maxContainersPerKey}) and none of them is idle: end one of them, or retry once one is idle`,
        this.retryAfterSeconds,
      );
    }
    if (live.length >= this.maxContainers) {
      return new ContainerQuotaError(
        WireErrorCode.ContainerCapReached,
        `the server holds its ${this.maxContainers} live containers and none of this API key's is idle; other keys' containers are not ended for it: retry later`,
        this.retryAfterSeconds,
      );
    }
    return undefined;
  }

  #live(): Array<LiveContainer & { holder: ContainerHolder }> {
    const live: Array<LiveContainer & { holder: ContainerHolder }> = [];
    for (const holder of this.#holders) {
      for (const entry of holder.liveContainers()) live.push({ ...entry, holder });
    }
    return live;
  }
}

/** Owners are stored as a hash of the API key, so the key itself is never kept beside the resources or logged. */
export function ownerOf(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("base64url").slice(0, 22);
}

/**
 * The owner of the request being handled, for code that is not handed it: the authentication middleware
 * runs each request inside `runAsOwner`, so e.g. the admission slot a `/v1/messages` script takes is
 * counted against its key.
 */
const requestOwner = new AsyncLocalStorage<string>();

export function runAsOwner<T>(owner: string, work: () => T): T {
  return requestOwner.run(owner, work);
}

export function currentOwner(): string | undefined {
  return requestOwner.getStore();
}
