import { ErrorCode, PtcError } from "../protocol/errors.js";
import {
  type ContainerLimits,
  currentOwner,
  DEFAULT_MAX_CONTAINERS,
  DEFAULT_RETRY_AFTER_SECONDS,
  perKeyShare,
} from "./resource-owners.js";

export { DEFAULT_RETRY_AFTER_SECONDS, perKeyShare } from "./resource-owners.js";

/** Executions holding a slot at once, across the whole server (a paused one keeps its slot: it holds a sandbox). */
export const DEFAULT_MAX_RUNNING_EXECUTIONS = 16;
/**
 * Waiting for a slot, across the whole server; past this, 429 with Retry-After. A queued execution holds no
 * sandbox (only its request); with one-off sandboxes recycled, 2 cores serve ≥ 20 short executions a second,
 * so a full queue drains in ~13 s. At 64 (sized for ~1.6/s when each execution started a sandbox), a burst
 * of 200 had 119 refused though the server could have served them within a client's patience.
 */
export const DEFAULT_MAX_QUEUED_EXECUTIONS = 256;
/**
 * Slots one key may hold at once: half the server's. A slot is held for an execution's whole life,
 * pauses included, and cannot be taken back, so without a per-key cap one key's paused executions
 * could hold every slot; with it, the other keys always keep half. Past it, the key's executions wait
 * in the queue (without blocking other keys' waiters).
 */
export const DEFAULT_MAX_RUNNING_EXECUTIONS_PER_KEY = perKeyShare(DEFAULT_MAX_RUNNING_EXECUTIONS);
/** Waiting for a slot, per key: half the queue, so one key's burst leaves the others room to queue. */
export const DEFAULT_MAX_QUEUED_EXECUTIONS_PER_KEY = perKeyShare(DEFAULT_MAX_QUEUED_EXECUTIONS);

/** An acquisition with no owner (neither passed nor ambient, see `runAsOwner`) counts as this one key. */
const UNOWNED = "";

export interface AdmissionOptions {
  maxRunningExecutions?: number;
  maxQueuedExecutions?: number;
  /** Default: half of `maxRunningExecutions` (`perKeyShare`); at most `maxRunningExecutions`. */
  maxRunningExecutionsPerKey?: number;
  /** Default: half of `maxQueuedExecutions` (`perKeyShare`); at most `maxQueuedExecutions`. */
  maxQueuedExecutionsPerKey?: number;
  retryAfterSeconds?: number;
}

/** Gives the slot back. Idempotent: calling it twice frees one slot. */
export type AdmissionRelease = () => void;

/** `/health`'s `admission` object (snake-cased there: `max_running`, …): its names are part of the wire. */
export interface AdmissionStats {
  running: number;
  queued: number;
  maxRunning: number;
  maxQueued: number;
  maxRunningPerKey: number;
  maxQueuedPerKey: number;
}

/**
 * One per server: every execution, from the executions API or `/v1/messages`, takes a slot before
 * `engine.execute` and gives it back when its result has settled. Slots are shared fairly across API
 * keys (owners): a key holds at most `maxRunningExecutionsPerKey` and queues at most `maxQueuedExecutionsPerKey`; a freed
 * slot goes to the waiter whose key holds the fewest slots (the oldest such waiter on a tie, so one key's
 * waiters are served in order and keys take turns), skipping keys at their quota. `tryAcquire` never
 * overtakes a waiter of its own key, nor one that could run.
 *
 * The owner is the `owner` argument, else the ambient one (`runAsOwner`, set for every authenticated
 * request), else one shared unowned key.
 */
export interface AdmissionController {
  /**
   * A slot at once, or `undefined` when none is free for this key or it would overtake a waiter. Never
   * queues, never throws (except after `close`: `shutting_down`).
   */
  tryAcquire(owner?: string): AdmissionRelease | undefined;
  /**
   * A slot now or after waiting in the queue. Refusal is decided synchronously, before anything is
   * queued: throws a `PtcError` from the call itself, which `await admission.acquire(signal)` sees as a
   * rejection like any other: `overloaded` when the server's queue is full, `key_queue_quota_exceeded` when
   * the key already has its share of it waiting (both with `retryAfterSeconds`), `shutting_down` after
   * `close`. While queued, aborting `signal` removes the waiter and rejects with `signal.reason`; `close`
   * rejects it with `shutting_down`.
   */
  acquire(signal?: AbortSignal, owner?: string): Promise<AdmissionRelease>;
  stats(): AdmissionStats;
  /** Refuses new acquisitions (`shutting_down`) and rejects every queued waiter; slots held are kept until released. */
  close(): void;
}

interface Waiter {
  owner: string;
  grant(release: AdmissionRelease): void;
  refuse(error: unknown): void;
}

export function createAdmissionController(options: AdmissionOptions = {}): AdmissionController {
  const maxRunningExecutions = options.maxRunningExecutions ?? DEFAULT_MAX_RUNNING_EXECUTIONS;
  const maxQueuedExecutions = options.maxQueuedExecutions ?? DEFAULT_MAX_QUEUED_EXECUTIONS;
  const maxRunningExecutionsPerKey = Math.min(
    options.maxRunningExecutionsPerKey ?? perKeyShare(maxRunningExecutions),
    maxRunningExecutions,
  );
  const maxQueuedExecutionsPerKey = Math.min(
    options.maxQueuedExecutionsPerKey ?? perKeyShare(maxQueuedExecutions),
    maxQueuedExecutions,
  );
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  if (
    !(maxRunningExecutions >= 1) ||
    !(maxQueuedExecutions >= 0) ||
    !(maxRunningExecutionsPerKey >= 1) ||
    !(maxQueuedExecutionsPerKey >= 0)
  ) {
    throw new Error(
      "admission needs maxRunningExecutions ≥ 1, maxQueuedExecutions ≥ 0, maxRunningExecutionsPerKey ≥ 1 and maxQueuedExecutionsPerKey ≥ 0",
    );
  }
  const queue: Waiter[] = [];
  /** Slots held, per owner (owners holding none are removed). */
  const held = new Map<string, number>();
  let running = 0;
  let closed = false;

  const shuttingDown = () => new PtcError(ErrorCode.ShuttingDown, "the server is shutting down");
  const holding = (owner: string) => held.get(owner) ?? 0;
  const canRun = (owner: string) => holding(owner) < maxRunningExecutionsPerKey;
  const ownerOf = (owner: string | undefined) => owner ?? currentOwner() ?? UNOWNED;

  function slot(owner: string): AdmissionRelease {
    running++;
    held.set(owner, holding(owner) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      const left = holding(owner) - 1;
      if (left > 0) held.set(owner, left);
      else held.delete(owner);
      dispatch();
    };
  }

  /** Hands free slots to waiters: the fewest slots held first, the oldest first among equals. */
  function dispatch(): void {
    while (running < maxRunningExecutions) {
      let next = -1;
      for (let index = 0; index < queue.length; index++) {
        const owner = (queue[index] as Waiter).owner;
        if (!canRun(owner)) continue;
        if (next < 0 || holding(owner) < holding((queue[next] as Waiter).owner)) next = index;
      }
      if (next < 0) return;
      const [waiter] = queue.splice(next, 1) as [Waiter];
      waiter.grant(slot(waiter.owner));
    }
  }

  function tryAcquire(owner: string): AdmissionRelease | undefined {
    if (closed) throw shuttingDown();
    if (running >= maxRunningExecutions || !canRun(owner)) return undefined;
    if (queue.some((waiter) => waiter.owner === owner || canRun(waiter.owner))) return undefined;
    return slot(owner);
  }

  return {
    tryAcquire(owner) {
      return tryAcquire(ownerOf(owner));
    },

    acquire(signal, owner) {
      const key = ownerOf(owner);
      const now = tryAcquire(key);
      if (now) return Promise.resolve(now);
      if (queue.length >= maxQueuedExecutions) {
        throw new PtcError(
          ErrorCode.Overloaded,
          `too many executions: ${running} running and ${queue.length} queued`,
          {},
          { retryAfterSeconds },
        );
      }
      const queuedByKey = queue.filter((waiter) => waiter.owner === key).length;
      if (queuedByKey >= maxQueuedExecutionsPerKey) {
        throw new PtcError(
          ErrorCode.KeyQueueQuotaExceeded,
          `this API key already has ${queuedByKey} executions waiting for a slot (its share of the queue) and holds ${holding(key)} of ${maxRunningExecutionsPerKey} slots`,
          {},
          { retryAfterSeconds },
        );
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<AdmissionRelease>((resolve, reject) => {
        const onAbort = () => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          owner: key,
          grant: (release) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(release);
          },
          refuse: (error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.push(waiter);
      });
    },

    stats() {
      return {
        running,
        queued: queue.length,
        maxRunning: maxRunningExecutions,
        maxQueued: maxQueuedExecutions,
        maxRunningPerKey: maxRunningExecutionsPerKey,
        maxQueuedPerKey: maxQueuedExecutionsPerKey,
      };
    },

    close() {
      if (closed) return;
      closed = true;
      for (const waiter of queue.splice(0)) waiter.refuse(shuttingDown());
    },
  };
}

/** The server config's capacity fields (`server.*` in ptc.config.json). */
export interface ServerCapacityConfig {
  maxRunningExecutions?: number;
  maxQueuedExecutions?: number;
  maxRunningExecutionsPerKey?: number;
  maxQueuedExecutionsPerKey?: number;
  maxContainers?: number;
  maxContainersPerKey?: number;
}

/** Every capacity limit of a server, resolved: what `createAdmissionController` and `ResourceOwners` take. */
export interface ServerCapacity extends Required<AdmissionOptions>, Required<ContainerLimits> {}

/**
 * Resolves the config's capacity fields once, for the admission controller and the container account.
 * An unset per-key limit is half the server's (`perKeyShare`) when two or more API keys are configured,
 * and the whole server cap with a single key (there is no other key to keep room for). A per-key limit is
 * never above its server cap.
 */
export function resolveServerCapacity(config: ServerCapacityConfig, apiKeyCount: number): ServerCapacity {
  const maxRunningExecutions = config.maxRunningExecutions ?? DEFAULT_MAX_RUNNING_EXECUTIONS;
  const maxQueuedExecutions = config.maxQueuedExecutions ?? DEFAULT_MAX_QUEUED_EXECUTIONS;
  const maxContainers = config.maxContainers ?? DEFAULT_MAX_CONTAINERS;
  const share = (cap: number, configured: number | undefined) =>
    Math.min(configured ?? (apiKeyCount > 1 ? perKeyShare(cap) : cap), cap);
  return {
    maxRunningExecutions,
    maxQueuedExecutions,
    maxRunningExecutionsPerKey: share(maxRunningExecutions, config.maxRunningExecutionsPerKey),
    maxQueuedExecutionsPerKey: share(maxQueuedExecutions, config.maxQueuedExecutionsPerKey),
    maxContainers,
    maxContainersPerKey: share(maxContainers, config.maxContainersPerKey),
    retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
  };
}
