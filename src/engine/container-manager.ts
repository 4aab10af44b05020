import { randomInt } from "node:crypto";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { SandboxPool } from "../sandbox/sandbox-pool.js";
import { ContainerIdleEvents, type ContainerIdleListener } from "./container-idle-events.js";
import { type ContainerQuota, makeRoom, type OwnedContainer } from "./container-quota.js";
import {
  type ContainerEndReason,
  type ContainerRecord,
  type ContainerRegistry,
  InMemoryContainerRegistry,
  newContainerId,
} from "./container-registry.js";
import { type ContainerLease, ContainerSandbox } from "./container-sandbox.js";
import { type ContainerTurn, ContainerTurns } from "./container-turns.js";
import type { Cancellation } from "./lazy-abort.js";

export const DEFAULT_CONTAINER_IDLE_TIMEOUT_MS = 300_000;
/**
 * Executions (or `/v1/messages` requests) waiting for their turn in one busy container. They wait without
 * an admission slot, so requests piling up on one paused container cannot take every slot of the server;
 * past this many, `container_queue_full`.
 */
export const DEFAULT_MAX_WAITING_PER_CONTAINER = 8;

export type { ContainerLease } from "./container-sandbox.js";
export type { ContainerTurn } from "./container-turns.js";

/** A fresh container's seed for Python's `random` (any 32-bit value; Python takes any int). */
function newContainerSeed(): number {
  return randomInt(0, 2 ** 32 - 1);
}

export interface ContainerInfo {
  id: string;
  /** Pid of the process ptc spawned for the sandbox (bubblewrap's, when it is in use). */
  sandboxPid: number | undefined;
  /** A turn is held or waited for, or a sandbox is leased. */
  busy: boolean;
  lastUsed: number;
  /** The API key's owner id; undefined for an engine's own containers. */
  owner: string | undefined;
  /** Its execution waits for a sandbox from the pool (none warm). */
  waitingForSandbox: boolean;
}

export interface ContainerManagerOptions {
  /** A container nobody used this long is ended (`expired`). Default `DEFAULT_CONTAINER_IDLE_TIMEOUT_MS`. */
  idleTimeoutMs?: number;
  /** Where records and tombstones live. Default an `InMemoryContainerRegistry`. */
  registry?: ContainerRegistry;
  /** Default `DEFAULT_MAX_WAITING_PER_CONTAINER`. */
  maxWaitingPerContainer?: number;
}

export interface CreateContainerOptions {
  /** The API that created it (`executions`, `messages`): an API answers only for its own containers. */
  origin?: string;
  /**
   * Makes room under `quota` before creating: the container counts against it from now on. Without it
   * the container counts once `makeRoom` is called (the executions API: when its first execution starts).
   */
  quota?: ContainerQuota;
}

export type ContainerEndedListener = (record: Readonly<ContainerRecord>) => void;

/** A live container: its record, its sandbox and who is using it. */
interface Live {
  record: ContainerRecord;
  /** A one-off container of an execution that named none: forgotten once its execution ends. */
  ephemeral: boolean;
  /** Its sandbox, and whether it is recycled or killed when it leaves the container. */
  sandbox: ContainerSandbox;
  turns: ContainerTurns;
  leases: number;
  /**
   * Leases follow one another too, borrowed ones included: a script cancelled in a turn (a paused one the
   * client abandoned) still holds the sandbox until its lease is released, and the next must not share it.
   */
  leaseTail: Promise<void>;
  /**
   * The quota it counts against once `makeRoom` was called for it. A quota is one account: a server shares
   * one between its APIs, so its cap and per-key share hold across them.
   */
  countedBy: ContainerQuota | undefined;
}

/**
 * The one owner of containers (sessions whose Python globals persist across executions): their ids, owners,
 * idle expiry, end reasons and tombstones (through the `ContainerRegistry`), the queue of executions taking
 * turns in each, the per-owner quota, and the one `onContainerEnded` event the APIs drop their side state on.
 * A sandbox serves one container: ending the container kills it; a one-off container's sandbox goes back
 * to the pool after a clean execution (`SandboxPool.recycle`: a fresh interpreter, then another container).
 */
export class ContainerManager {
  /** Live containers by id, each with its sandbox. Records (live and ended) are the registry's. */
  readonly #live = new Map<string, Live>();
  readonly #listeners = new Set<ContainerEndedListener>();
  readonly #idle = new ContainerIdleEvents();
  readonly #sweeper: NodeJS.Timeout;
  readonly registry: ContainerRegistry;
  readonly idleTimeoutMs: number;
  readonly maxWaitingPerContainer: number;

  constructor(
    /**
     * `acquire`: a sandbox for a container that has none; `recycle`: a one-off container's sandbox after a
     * clean execution (never a sandbox whose container lives on, and never after a stop).
     */
    private readonly pool: Pick<SandboxPool, "acquire" | "recycle">,
    options: ContainerManagerOptions = {},
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_CONTAINER_IDLE_TIMEOUT_MS;
    this.registry = options.registry ?? new InMemoryContainerRegistry();
    this.maxWaitingPerContainer = options.maxWaitingPerContainer ?? DEFAULT_MAX_WAITING_PER_CONTAINER;
    // A quarter of the timeout (50 ms to 10 s): a container outlives its timeout by at most that.
    const every = Math.max(50, Math.min(this.idleTimeoutMs / 4, 10_000));
    this.#sweeper = setInterval(() => this.sweep(), every);
    this.#sweeper.unref();
  }

  /** A new live container of `owner`, with a fresh id. */
  create(owner: string | undefined, options: CreateContainerOptions = {}): ContainerRecord {
    let id = newContainerId();
    while (this.registry.get(id)) id = newContainerId();
    if (options.quota && owner !== undefined) this.#makeRoom(owner, id, options.quota);
    const live = this.#open(id, owner, options.origin, false);
    live.countedBy = options.quota;
    return live.record;
  }

  /**
   * Makes a container that lives elsewhere (a store, another node) live here again under its own id and
   * seed, without a sandbox yet: its state is then rebuilt by replay (`engine.restoreContainer`).
   * Throws `invalid_request` when it is already live.
   */
  reopen(containerId: string, options: { seed: number; owner?: string; origin?: string }): ContainerRecord {
    if (this.#live.has(containerId)) {
      throw new PtcError(ErrorCode.InvalidRequest, `container ${containerId} is already live`);
    }
    return this.#open(containerId, options.owner, options.origin, false, options.seed).record;
  }

  has(containerId: string): boolean {
    return this.#live.has(containerId);
  }

  /** The container's record, live or a tombstone; undefined once forgotten or never known. */
  record(containerId: string): Readonly<ContainerRecord> | undefined {
    return this.registry.get(containerId);
  }

  /** Operational view of one live container (for diagnostics and fault tests). */
  inspect(containerId: string): ContainerInfo | undefined {
    const live = this.#live.get(containerId);
    if (!live) return undefined;
    return {
      id: containerId,
      sandboxPid: live.sandbox.current?.alive ? live.sandbox.current.pid : undefined,
      busy: live.turns.size > 0 || live.leases > 0,
      lastUsed: live.record.lastUsedAt,
      owner: live.record.owner,
      waitingForSandbox: live.sandbox.waiting,
    };
  }

  ids(): string[] {
    return [...this.#live.keys()];
  }

  onContainerEnded(listener: ContainerEndedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `listener` runs each time a live container turns idle (its last turn or lease ended). */
  onContainerIdle(listener: ContainerIdleListener): () => void {
    return this.#idle.subscribe(listener);
  }

  /**
   * Takes a turn in a live container: executions (and `/v1/messages` requests) in one container run one
   * after another. Throws at once when the container is not live, or `container_queue_full` when
   * `maxWaitingPerContainer` already wait; the turn's `granted` rejects when `signal` aborts first.
   */
  turn(containerId: string, signal?: AbortSignal): ContainerTurn {
    const live = this.#live.get(containerId);
    if (!live) throw new PtcError(ErrorCode.InvalidRequest, `container ${containerId} is not live`);
    if (live.turns.waiting >= this.maxWaitingPerContainer) {
      throw new PtcError(
        ErrorCode.ContainerQueueFull,
        `container ${containerId} already has ${this.maxWaitingPerContainer} executions waiting for their turn`,
      );
    }
    return live.turns.take(signal, () => this.#touch(live));
  }

  /**
   * Hands out the container's sandbox (starting one if needed) once it is `turn`'s go; without a turn it
   * takes one of its own, held until the lease is released. An unknown container is created (an engine
   * caller names its containers); none named, a one-off container.
   */
  async lease(
    containerId: string | undefined,
    cancel?: Cancellation,
    turn?: ContainerTurn,
    python = true,
  ): Promise<ContainerLease> {
    const current =
      (containerId === undefined ? undefined : this.#live.get(containerId)) ??
      this.#open(containerId ?? newContainerId(), undefined, undefined, containerId === undefined);
    // Without a signal: a cancelled execution waits for its turn as before, then sees `cancel` and stops.
    const own = turn === undefined || turn.containerId !== current.record.id ? current.turns.take() : undefined;
    current.leases++;
    const previous = current.leaseTail;
    let leaseDone: () => void = () => {};
    current.leaseTail = new Promise((resolve) => {
      leaseDone = resolve;
    });
    const done = () => {
      leaseDone();
      current.leases--;
      own?.release();
      this.#touch(current);
      if (current.ephemeral && current.leases === 0) this.#forget(current);
    };
    try {
      await (own ?? turn)?.granted;
      await previous;
      if (cancel?.aborted) throw new PtcError(ErrorCode.Cancelled, "cancelled before start");
      const { sandbox, reset } = await current.sandbox.take(cancel);
      const seed = current.sandbox.seedFor(sandbox, python, current.record.seed);
      const firstRun = current.sandbox.firstRunIn(sandbox);
      let released = false;
      return {
        containerId: current.record.id,
        sandbox,
        reset,
        seed,
        firstRun,
        release: ({ discard, clean = false }) => {
          if (released) return;
          released = true;
          current.sandbox.leaseEnded(sandbox, {
            discard,
            clean,
            ephemeral: current.ephemeral,
            containerLive: this.#live.has(current.record.id),
          });
          done();
        },
      };
    } catch (error) {
      done();
      throw error;
    }
  }

  /**
   * Before container `id` takes a sandbox: while its owner holds the quota, ends the owner's own least
   * recently used idle container (`evicted`), never another owner's; throws the quota's refusal when it
   * has none idle. From then on the container counts against the quota.
   */
  makeRoom(containerId: string, quota: ContainerQuota): void {
    const live = this.#live.get(containerId);
    if (!live || live.countedBy !== undefined || live.record.owner === undefined) return;
    this.#makeRoom(live.record.owner, containerId, quota);
    live.countedBy = quota;
  }

  /** Throws what `makeRoom` would throw for a new container of `owner` now, ending nothing. */
  checkRoom(owner: string, quota: ContainerQuota): void {
    const counted = this.#counted(quota);
    const refusal = quota.refusal(owner, counted);
    if (refusal && !counted.some((entry) => entry.owner === owner && entry.idle)) throw refusal;
  }

  /**
   * Ends a live container: its sandbox is killed (recycled instead when `reason` is an idle end and it is idle
   * and clean: container-sandbox.ts), its waiting turns refused, its record kept as a tombstone.
   */
  end(containerId: string, reason: ContainerEndReason): boolean {
    const live = this.#live.get(containerId);
    if (!live) return false;
    this.#live.delete(containerId);
    live.turns.refuseWaiting(new PtcError(ErrorCode.Cancelled, `container ${containerId} ended (${reason})`));
    if (live.ephemeral || live.record.owner === undefined) this.registry.delete(containerId);
    else this.registry.end(containerId, reason, Date.now());
    // Listeners first (they cancel what runs in it, e.g. a paused script), then the sandbox goes.
    for (const listener of this.#listeners) listener(live.record);
    live.sandbox.containerEnded(reason, live.leases === 0);
    return true;
  }

  /**
   * Makes a live container leave this process without ending it (a durable store still holds it): its
   * sandbox is recycled or killed (`end`), waiting turns refused, listeners told (`released`), and its
   * record forgotten here.
   */
  release(containerId: string): boolean {
    if (!this.#live.has(containerId)) return false;
    this.end(containerId, "released");
    this.registry.delete(containerId);
    return true;
  }

  /** Ends the container if live, then forgets its record: its id is unknown from now on. */
  delete(containerId: string): void {
    this.end(containerId, "deleted");
    this.registry.delete(containerId);
  }

  /** Ends idle containers past the idle timeout and forgets tombstones past their bounds. */
  sweep(now = Date.now()): void {
    for (const live of [...this.#live.values()]) {
      // No turn held or waited for. A lease may remain, borrowed from a turn that was released: a script
      // paused on its client (`/v1/messages`) expires with its container, as on Anthropic's API.
      if (live.turns.size === 0 && now > live.record.expiresAt) this.end(live.record.id, "expired");
    }
    this.registry.pruneEnded(now);
  }

  closeAll(): void {
    clearInterval(this.#sweeper);
    for (const id of this.ids()) this.end(id, "closed");
  }

  #open(
    id: string,
    owner: string | undefined,
    origin: string | undefined,
    ephemeral: boolean,
    seed = newContainerSeed(),
  ): Live {
    const now = Date.now();
    const record: ContainerRecord = {
      id,
      owner,
      ...(origin !== undefined ? { origin } : {}),
      createdAt: now,
      seed,
      lastUsedAt: now,
      expiresAt: now + this.idleTimeoutMs,
    };
    if (!ephemeral) this.registry.put(record);
    const live: Live = {
      record,
      ephemeral,
      sandbox: new ContainerSandbox(this.pool),
      turns: new ContainerTurns(id),
      leases: 0,
      leaseTail: Promise.resolve(),
      countedBy: undefined,
    };
    this.#live.set(id, live);
    return live;
  }

  #touch(live: Live): void {
    const now = Date.now();
    live.record.lastUsedAt = now;
    live.record.expiresAt = now + this.idleTimeoutMs;
    if (live.ephemeral || this.#live.get(live.record.id) !== live) return;
    this.registry.put(live.record);
    const { id } = live.record;
    this.#idle.queue(id, () => live.turns.size === 0 && live.leases === 0 && this.#live.get(id) === live);
  }

  #forget(live: Live): void {
    if (this.#live.get(live.record.id) === live) this.#live.delete(live.record.id);
  }

  #counted(quota: ContainerQuota, except?: string): OwnedContainer[] {
    const counted: OwnedContainer[] = [];
    for (const live of this.#live.values()) {
      if (live.countedBy !== quota || live.record.owner === undefined || live.record.id === except) continue;
      const idle = live.turns.size === 0 && live.leases === 0;
      counted.push({ id: live.record.id, owner: live.record.owner, lastUsedAt: live.record.lastUsedAt, idle });
    }
    return counted;
  }

  #makeRoom(owner: string, id: string, quota: ContainerQuota): void {
    makeRoom(
      owner,
      () => this.#counted(quota, id),
      quota,
      (victim) => this.end(victim, "evicted"),
    );
  }
}
