import {
  type ContainerEndReason,
  type ContainerRecord,
  DEFAULT_ENDED_CONTAINER_RETENTION_MS,
  DEFAULT_MAX_ENDED_CONTAINERS,
} from "../../engine/container-registry.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import type { WriteAhead } from "../../engine/write-ahead.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult, ScriptLanguage } from "../../protocol/execution.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { Logger } from "../http/logger.js";
import { silentLogger } from "../http/logger.js";
import { type ContainerLease, DEFAULT_LEASE_TTL_MS, type Store, type StoredExecution } from "../store/store.js";
import { finishedRecord, type Revive } from "./container-history.js";
import { rebuildContainer } from "./container-rebuild.js";
import { NodeHeartbeat } from "./node-heartbeat.js";
import { nodeBusy, type Placement } from "./placement.js";
import { DEFAULT_SHORTAGE_EVICT_IDLE_MS, ShortageEviction } from "./shortage-eviction.js";
import { storeWriteAhead } from "./store-journal.js";

export type { ExecutionRevival, Revive } from "./container-history.js";
export type { Placement, ResumedExecution } from "./placement.js";

/** A node renews its heartbeat this often: three beats per lease TTL, so one late beat loses nothing. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = DEFAULT_LEASE_TTL_MS / 3;
/**
 * A container nobody used this long leaves memory (its sandbox goes back to the pool or is freed; the store
 * keeps it) and is rebuilt by replay on its next use (~60 ms more for a short history). Half a minute: a
 * model's next turn usually comes within seconds, a warm sandbox holds ~130 MiB, and after a burst the
 * sandboxes its containers held are gone within a minute (checked every 7.5 s; the pool kills what it
 * does not need).
 */
export const DEFAULT_EVICT_IDLE_MS = 30_000;
/** Tombstones past the bounds are forgotten this often (each node; the deletes are idempotent). */
export const PRUNE_INTERVAL_MS = 60_000;

export interface DurableNodeOptions {
  store: Store;
  engine: Engine;
  /** The server's tools: a call of one with a handler, journaled without an outcome, may have run already. */
  serverTools: readonly ToolDefinition[];
  nodeId: string;
  /** Where other nodes forward requests for this node's containers (else `start`'s). */
  url?: string;
  heartbeatIntervalMs?: number;
  /** As the store's: how long a silent node keeps its containers. Default `DEFAULT_LEASE_TTL_MS`. */
  leaseTtlMs?: number;
  /** Default `DEFAULT_EVICT_IDLE_MS`; 0 keeps idle containers in memory until they expire. */
  evictIdleMs?: number;
  /** Default `DEFAULT_SHORTAGE_EVICT_IDLE_MS`; 0: no eviction when executions wait for a sandbox. */
  shortageEvictIdleMs?: number;
  logger?: Logger;
}

/**
 * This node's side of the durable store: it creates containers in the store, holds their leases (epoch,
 * the fencing token), writes executions ahead, rebuilds containers it takes over (after a crash, on
 * another node's death, after eviction) by replay, and runs the heartbeat, the expiry sweep and idle
 * eviction. The APIs ask it where a container lives (`place`) before they touch one.
 */
export class DurableNode {
  readonly store: Store;
  readonly nodeId: string;
  readonly leaseTtlMs: number;
  readonly evictIdleMs: number;
  readonly shortageEvictIdleMs: number;
  #shortage: ShortageEviction | null = null;
  /** Containers whose lease this node holds, by id: the epoch every write of their work carries. */
  readonly #leases = new Map<string, number>();
  /** Placements in progress (a claim and a replay), so two requests for one container share one. */
  readonly #placing = new Map<string, Promise<Placement>>();
  readonly #engine: Engine;
  readonly #handlerTools: Set<string>;
  readonly #logger: Logger;
  readonly #heartbeatMs: number;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #unsubscribe: () => void;
  readonly #heartbeat: NodeHeartbeat;
  #url: string;
  #draining = false;
  #closed = false;

  constructor(options: DurableNodeOptions) {
    this.store = options.store;
    this.#engine = options.engine;
    this.nodeId = options.nodeId;
    this.#url = options.url ?? "";
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? Math.max(50, Math.floor(this.leaseTtlMs / 3));
    this.evictIdleMs = options.evictIdleMs ?? DEFAULT_EVICT_IDLE_MS;
    this.shortageEvictIdleMs = options.shortageEvictIdleMs ?? DEFAULT_SHORTAGE_EVICT_IDLE_MS;
    this.#logger = options.logger ?? silentLogger;
    this.#handlerTools = new Set(options.serverTools.filter((tool) => tool.handler).map((tool) => tool.name));
    this.#unsubscribe = this.#engine.containers.onContainerEnded((record) => this.#onEnded(record));
    this.#heartbeat = new NodeHeartbeat(
      this.store,
      this.nodeId,
      this.leaseTtlMs,
      () => this.#afterBeat(),
      () => {
        for (const id of [...this.#leases.keys()]) this.#lost(id);
      },
    );
  }

  get url(): string {
    return this.#url;
  }

  /** Registers the node (its first heartbeat) and starts the heartbeat, sweep and eviction timers. */
  async start(url: string): Promise<void> {
    this.#url = url;
    await this.#heartbeat.beat(this.#url);
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        work().catch((error: unknown) => this.#logger.log("warn", "store", { error: describe(error) }));
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#heartbeatMs, () => this.#heartbeat.beat(this.#url));
    every(PRUNE_INTERVAL_MS, () =>
      this.store.pruneEnded({
        maxEndedContainers: DEFAULT_MAX_ENDED_CONTAINERS,
        endedContainerRetentionMs: DEFAULT_ENDED_CONTAINER_RETENTION_MS,
      }),
    );
    if (this.evictIdleMs > 0) every(Math.max(50, Math.min(this.evictIdleMs / 4, 10_000)), async () => this.#evict());
    if (this.shortageEvictIdleMs > 0) {
      this.#shortage = new ShortageEviction(this.#engine, this.shortageEvictIdleMs, (id) =>
        this.#evictOne(id, "shortage"),
      );
    }
  }

  /** Containers this node holds the lease of. */
  leases(): Array<{ containerId: string; epoch: number }> {
    return [...this.#leases].map(([containerId, epoch]) => ({ containerId, epoch }));
  }

  /** The lease every write of the container's work carries; `container_lease_lost` when this node holds none. */
  lease(containerId: string): ContainerLease {
    const epoch = this.#leases.get(containerId);
    if (epoch === undefined || !this.#heartbeat.fresh()) {
      // Retryable: the container's next request finds the node that holds it now (or claims it again).
      throw new PtcError(
        ErrorCode.ContainerLeaseLost,
        `this node does not hold container ${containerId}`,
        { containerId },
        { retryAfterSeconds: 1 },
      );
    }
    return { containerId, epoch };
  }

  /**
   * A new container of `owner` in the engine and the store, leased to this node. The store fails closed:
   * when it cannot record the container, it is not created.
   */
  async createContainer(
    owner: string,
    origin: string,
    create: () => Readonly<ContainerRecord>,
  ): Promise<Readonly<ContainerRecord>> {
    await this.#heartbeat.checkFresh(this.#url);
    const record = create();
    try {
      const stored = await this.store.createContainer({
        id: record.id,
        owner,
        origin,
        seed: record.seed ?? 0,
        ownerNode: this.nodeId,
        idleTimeoutMs: this.#engine.containers.idleTimeoutMs,
      });
      this.#leases.set(record.id, stored.epoch);
    } catch (error) {
      this.#engine.containers.release(record.id);
      throw error;
    }
    return record;
  }

  /**
   * Where container `id` of `scope` lives. Live here: `local`. Held by another live node: `remote` (forward
   * the request there). Otherwise this node claims it (epoch + 1) and rebuilds its Python state by replay:
   * `local`, with the execution it had unfinished running again (`resumed`). A container of another owner
   * or origin is `unknown`, as an unknown id is: ids cannot be probed, not even for which node holds them.
   */
  async place(id: string, scope: { owner: string; origin: string }, revive: Revive): Promise<Placement> {
    // While it is being rebuilt here, the container exists before its resumed execution is handed over:
    // a request arriving then shares the placement (below) instead of finding no execution in it.
    if (this.#leases.has(id) && this.#engine.containers.has(id) && !this.#placing.has(id)) {
      const record = this.#engine.containers.record(id);
      if (record?.owner !== scope.owner || record.origin !== scope.origin) return { kind: "unknown" };
      return { kind: "local" };
    }
    const stored = await this.store.getContainer(id);
    if (!stored || stored.owner !== scope.owner || stored.origin !== scope.origin) return { kind: "unknown" };
    return this.#placeOnce(id, revive);
  }

  /** The stored execution `id` if it belongs to `owner` (the executions API's lookup after a restart). */
  async execution(id: string, owner: string): Promise<StoredExecution | undefined> {
    const stored = await this.store.getExecution(id);
    return stored?.apiKeyOwner === owner ? stored : undefined;
  }

  /** Records the start of an execution (fenced) and returns the write-ahead its calls go through. */
  async beginExecution(
    containerId: string,
    execution: { id: string; code: string; language?: ScriptLanguage; apiKeyOwner: string; options: JsonValue },
  ): Promise<WriteAhead> {
    await this.store.createExecution(this.lease(containerId), {
      ...execution,
      language: execution.language ?? "python",
    });
    return this.writeAhead(containerId, execution.id);
  }

  writeAhead(containerId: string, executionId: string): WriteAhead {
    const writeAhead = storeWriteAhead(this.store, () => this.lease(containerId), executionId);
    const lost = (error: unknown): never => {
      if (PtcError.is(error, ErrorCode.ContainerLeaseLost)) this.#lost(containerId);
      throw error;
    };
    return {
      call: (call) => writeAhead.call(call).catch(lost),
      result: (result) => writeAhead.result(result).catch(lost),
    };
  }

  /**
   * Records an execution's end before the API reports it (write first, answer second), then marks the
   * container used. `view` is what the API answers for it, kept for its lookups after a restart.
   */
  async finishExecution(
    containerId: string,
    executionId: string,
    handle: Pick<ExecutionHandle, "stateKept">,
    result: Pick<ExecutionResult, "status">,
    view: JsonValue,
  ): Promise<void> {
    if (this.#draining && result.status === "cancelled") return;
    const lease = this.lease(containerId);
    const status = result.status === "completed" ? "done" : "failed";
    const record = finishedRecord(handle.stateKept === true, view);
    await this.store.finishExecution(lease, executionId, { status, result: record });
    await this.store.touchContainer(lease, this.#engine.containers.idleTimeoutMs);
  }

  /** Ends the container everywhere (the store first: a container the store still holds comes back). */
  async endContainer(id: string, reason: ContainerEndReason): Promise<void> {
    const epoch = this.#leases.get(id);
    await this.store.endContainer(id, reason, epoch === undefined ? undefined : { containerId: id, epoch });
    this.#leases.delete(id);
    this.#engine.containers.end(id, reason);
  }

  /**
   * The node is shutting down: executions cancelled from now on are not recorded as finished, so the next
   * node to take their containers resumes them (a deploy does not lose paused scripts).
   */
  drain(): void {
    this.#draining = true;
  }

  /** Stops the timers and leaves the store cleanly: other nodes may claim this node's containers at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#shortage?.stop();
    this.#unsubscribe();
    await this.#heartbeat.stop();
    await this.store.removeWorker(this.nodeId).catch(() => undefined);
  }

  #placeOnce(id: string, revive: Revive): Promise<Placement> {
    let placing = this.#placing.get(id);
    if (!placing && this.#leases.has(id) && this.#engine.containers.has(id)) return Promise.resolve({ kind: "local" });
    if (!placing) {
      placing = this.#place(id, revive).finally(() => this.#placing.delete(id));
      this.#placing.set(id, placing);
    }
    return placing;
  }

  async #place(id: string, revive: Revive): Promise<Placement> {
    await this.#heartbeat.checkFresh(this.#url);
    const stored = await this.store.getContainer(id);
    if (!stored) return { kind: "unknown" };
    if (stored.status !== "live") return { kind: "ended", stored };
    if (stored.ownerNode !== undefined && stored.ownerNode !== this.nodeId) {
      const owner = (await this.store.workers()).find((worker) => worker.id === stored.ownerNode);
      if (owner?.alive) return { kind: "remote", nodeId: owner.id, url: owner.url };
    }
    const claimed = await this.store.claimContainer(id, this.nodeId, stored.epoch);
    if (!claimed) {
      // Another node claimed it between the read and the claim: ask again who holds it now.
      const now = await this.store.getContainer(id);
      const owner = (await this.store.workers()).find((worker) => worker.id === now?.ownerNode);
      if (now?.status === "live" && owner?.alive && owner.id !== this.nodeId) {
        return { kind: "remote", nodeId: owner.id, url: owner.url };
      }
      throw nodeBusy(id, this.leaseTtlMs);
    }
    this.#leases.set(id, claimed.epoch);
    this.#engine.containers.release(id); // a stale copy from before a lease was lost
    try {
      return await rebuildContainer(claimed, revive, {
        store: this.store,
        engine: this.#engine,
        logger: this.#logger,
        handlerTools: this.#handlerTools,
        lease: (containerId) => this.lease(containerId),
        writeAhead: (containerId, executionId) => this.writeAhead(containerId, executionId),
      });
    } catch (error) {
      // It can never be rebuilt: a replay that diverged, or a journal past what a replay may carry.
      if (PtcError.is(error, ErrorCode.ReplayDiverged) || PtcError.is(error, ErrorCode.ReplayTooLarge)) {
        await this.endContainer(id, "lost").catch(() => undefined);
      } else {
        // Not rebuilt here: leave it to the next request (on any node), and free what was started.
        this.#leases.delete(id);
        this.#engine.containers.release(id);
      }
      throw error;
    }
  }

  /** After each heartbeat: leases another node took meanwhile are given up, expired containers ended. */
  async #afterBeat(): Promise<void> {
    // Containers another node took over while this one was away (paused, partitioned): give them up.
    // Only leases held before the read: one claimed meanwhile is not in it yet.
    const before = [...this.#leases];
    const held = new Map((await this.store.liveContainers(this.nodeId)).map((c) => [c.id, c.epoch]));
    for (const [id, epoch] of before) {
      if (this.#leases.get(id) === epoch && held.get(id) !== epoch) this.#lost(id);
    }
    for (const ended of await this.store.sweepExpired()) {
      this.#leases.delete(ended.id);
      this.#engine.containers.end(ended.id, "expired");
    }
  }

  /** Idle containers leave memory; the store keeps them, and their next use rebuilds them by replay. */
  #evict(): void {
    const cutoff = Date.now() - this.evictIdleMs;
    for (const id of this.#engine.containers.ids()) {
      const info = this.#engine.containers.inspect(id);
      if (info && !info.busy && info.lastUsed <= cutoff) this.#evictOne(id, "idle");
    }
  }

  /** Releases an idle container this node holds (its sandbox recycled); false when it holds none. */
  #evictOne(id: string, why: "idle" | "shortage"): boolean {
    if (this.#draining || !this.#leases.has(id)) return false;
    this.#leases.delete(id);
    this.#engine.containers.release(id);
    this.#logger.log("info", "container-evicted", { container_id: id, reason: why });
    return true;
  }

  /** This node no longer holds the container: its sandbox goes, and nothing of it is written again. */
  #lost(id: string): void {
    if (!this.#leases.delete(id)) return;
    this.#engine.containers.release(id);
    this.#logger.log("warn", "container-lease-lost", { container_id: id });
  }

  #onEnded(record: Readonly<ContainerRecord>): void {
    const reason = record.endReason;
    // Shutting down or handing over: the store keeps the container for the next node.
    if (reason === undefined || reason === "released" || reason === "closed") return;
    const epoch = this.#leases.get(record.id);
    if (epoch === undefined) return;
    this.#leases.delete(record.id);
    this.store.endContainer(record.id, reason, { containerId: record.id, epoch }).catch((error: unknown) => {
      this.#logger.log("warn", "store", { error: describe(error), container_id: record.id });
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
