import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { ContainerQuota, OwnedContainer } from "../engine/container-quota.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";

export type OwnedKind = "execution";

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

/**
 * Who created each execution (containers carry their owner in the engine's `ContainerManager`). Every
 * lookup goes through `owns`, and a resource owned by another key is reported exactly like an unknown one,
 * so ids cannot be probed across keys.
 *
 * Also the server's container limits, configured once (`ContainerQuota`): the engine's `ContainerManager`
 * asks `refusal` where a container is created or first started, for both endpoints together, so the server
 * cap and the per-key quota hold across them.
 */
export class ResourceOwners implements ContainerQuota {
  readonly #owners = new Map<string, string>();
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

  release(kind: OwnedKind, id: string): void {
    this.#owners.delete(`${kind}:${id}`);
  }

  /**
   * `ContainerQuota`: 429 `key_container_quota_exceeded` when the key holds its share, `container_cap_reached`
   * when the server holds its cap (the manager then ends the key's own least recently used idle container,
   * never another key's, and throws this when it has none idle).
   */
  refusal(owner: string, counted: readonly OwnedContainer[]): PtcError | undefined {
    const owned = counted.filter((entry) => entry.owner === owner).length;
    if (owned >= this.maxContainersPerKey) {
      return new PtcError(
        ErrorCode.KeyContainerQuotaExceeded,
        `this API key holds ${owned} live containers (its quota is ${this.maxContainersPerKey}) and none of them is idle: end one of them, or retry once one is idle`,
        {},
        { retryAfterSeconds: this.retryAfterSeconds },
      );
    }
    if (counted.length >= this.maxContainers) {
      return new PtcError(
        ErrorCode.ContainerCapReached,
        `the server holds its ${this.maxContainers} live containers and none of this API key's is idle; other keys' containers are not ended for it: retry later`,
        {},
        { retryAfterSeconds: this.retryAfterSeconds },
      );
    }
    return undefined;
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
