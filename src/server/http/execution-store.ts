import type { ContainerTurn } from "../../engine/container-manager.js";
import type { ContainerRecord } from "../../engine/container-registry.js";
import type { Engine, ExecuteRequest } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { newExecutionId } from "../../engine/random-id.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { AdmissionController, AdmissionRelease } from "../admission.js";
import type { ResumedExecution } from "../durable/durable-node.js";
import type { ResourceOwners } from "../resource-owners.js";
import { ContainerRecords, type ContainerView } from "./container-records.js";
import type { DurableExecutions } from "./durable-executions.js";
import { admitExecution } from "./execution-admission.js";
import { FinishedExecutions, type FinishedExecutionsOptions } from "./finished-executions.js";
import {
  type CallSubmission,
  cancelledError,
  StoredExecution,
  startError,
  unstartedResult,
} from "./stored-execution.js";

/**
 * A result sent for an execution being resumed by replay waits this long for it to reach its pause: a
 * sandbox start plus the replay (10,000 journaled calls replay in well under a second).
 */
export const RESUME_WAIT_MS = 60_000;
export type ExecutionStoreOptions = FinishedExecutionsOptions;

export type { CallSubmission } from "./stored-execution.js";

/**
 * Executions and containers created through the HTTP API: admission (through the server's one
 * `AdmissionController`), ownership, retention of finished results, container expiry, shutdown.
 */
export class ExecutionStore {
  readonly #executions = new Map<string, StoredExecution>();
  /** Waiting for a slot: aborting the controller takes them out of the admission queue. */
  readonly #queued = new Map<StoredExecution, AbortController>();
  /** Started, each with the slot it holds until it finishes. */
  readonly #running = new Map<StoredExecution, AdmissionRelease>();
  /** Each unfinished execution's turn in its container (`ContainerManager.turn`), held until it finishes. */
  readonly #turns = new Map<StoredExecution, ContainerTurn>();
  /** Finished executions, kept readable within the retention bounds. */
  readonly #finished: FinishedExecutions;
  /**
   * Executions stopped because the store refused a write (down, or this node's lease lost): their end is
   * not durable, so it is not answered; the store still has them unfinished, and the next lookup resumes
   * them from it.
   */
  readonly #undurable = new WeakMap<StoredExecution, PtcError>();
  readonly #adoptions = new WeakMap<ResumedExecution, Promise<void>>();
  readonly #containers: ContainerRecords;
  #closing = false;

  constructor(
    private readonly engine: Engine,
    private readonly owners: ResourceOwners,
    private readonly admission: AdmissionController,
    options: ExecutionStoreOptions = {},
    /** On a durable node: executions and containers in the store, written before they are answered. */
    private readonly durable?: DurableExecutions,
  ) {
    this.#finished = new FinishedExecutions(options, (entry) => {
      this.#executions.delete(entry.id);
      this.owners.release("execution", entry.id);
    });
    this.#containers = new ContainerRecords(engine.containers);
  }

  stats(): { running: number; paused: number; queued: number; finished: number; containers: number } {
    let paused = 0;
    for (const entry of this.#running.keys()) if (entry.isPaused()) paused++;
    const containers = this.#containers.liveCount();
    return {
      running: this.#running.size,
      paused,
      queued: this.#queued.size,
      finished: this.#finished.size,
      containers,
    };
  }

  /**
   * Admits an execution: in a new container unless `container` names one of the owner's live ones
   * (404/410 before anything else). A new container the key could not get even with a slot free (its
   * quota or the server's cap held, none of its own containers idle) is a 429 at once. Started at once
   * when a slot is free for this key (engine errors then surface as 400), else queued; a full queue, or
   * the key's full share of it, is a 429 and nothing is created.
   */
  async create(
    owner: string,
    container: string | undefined,
    request: StoredExecution["request"],
  ): Promise<StoredExecution> {
    if (this.#closing) throw new PtcError(ErrorCode.ShuttingDown, "the server is shutting down");
    const named = container === undefined ? undefined : await this.container(owner, container);
    if (named === undefined) this.engine.containers.checkRoom(owner, this.owners);
    const { abort, release, granted, ...admitted } = admitExecution(
      this.engine.containers,
      this.admission,
      this.owners,
      owner,
      named?.id,
    );
    let turn = admitted.turn;
    let record: Readonly<ContainerRecord>;
    try {
      record = named ?? (await this.#newContainer(owner));
      turn ??= this.engine.containers.turn(record.id, abort.signal);
    } catch (error) {
      release?.();
      abort.abort();
      throw error;
    }
    const id = newExecutionId();
    this.owners.claim("execution", id, owner);
    const entry = new StoredExecution(id, owner, record.id, request);
    this.#turns.set(entry, turn);
    if (release) {
      try {
        await this.#start(entry, release);
      } catch (error) {
        release();
        this.#turns.delete(entry);
        turn.release();
        this.owners.release("execution", id);
        if (named === undefined) await this.#deleteNew(record.id);
        throw error;
      }
    } else if (granted) {
      this.#queued.set(entry, abort);
      granted.then(
        (slot) => this.#startQueued(entry, slot),
        (error: unknown) => this.cancel(entry, error instanceof Error ? error.message : "not admitted"),
      );
    }
    this.#executions.set(id, entry);
    return entry;
  }

  /**
   * The owner's execution, or 404 (also for another owner's: ids cannot be probed). On a durable node, one
   * this process does not hold is looked up in the store: a finished one answers its stored result, an
   * unfinished one is resumed here by replay (or its request forwarded to the node holding it).
   */
  async get(owner: string, id: string): Promise<StoredExecution> {
    const entry = this.#executions.get(id);
    if (entry && this.owners.owns("execution", id, owner)) return entry;
    const found = entry ? undefined : await this.#fromStore(owner, id);
    if (!found) throw new PtcError(ErrorCode.NotFound, `execution ${id} not found`);
    return found;
  }

  async #fromStore(owner: string, id: string): Promise<StoredExecution | undefined> {
    const stored = await this.durable?.execution(owner, id);
    if (!this.durable || !stored) return undefined;
    const finished = this.durable.finished(stored);
    if (finished) {
      const entry = this.#executions.get(id) ?? this.durable.entry(owner, stored);
      if (!this.#executions.has(id)) {
        this.owners.claim("execution", id, owner);
        this.#executions.set(id, entry);
        this.#retain(entry, finished.result);
      }
      return entry;
    }
    // Unfinished: its container comes here (and the execution with it), or the request goes to its node.
    await this.container(owner, stored.containerId);
    return this.#executions.get(id);
  }

  /** Takes over an execution a rebuilt container resumed: it runs on here as if it had never stopped. */
  async #adopt(owner: string, resumed: ResumedExecution): Promise<void> {
    const { stored, handle, turn } = resumed;
    if (!this.durable) return;
    const entry = this.durable.entry(owner, stored);
    entry.resumed = true;
    // Registered before the first await: a request arriving once the placement is done finds it.
    this.owners.claim("execution", stored.id, owner);
    this.#executions.set(stored.id, entry);
    this.#turns.set(entry, turn);
    entry.attach(handle);
    // Resumed work holds no admission slot: it was admitted once, and the container quota bounds it.
    this.#running.set(entry, () => {});
    void this.#follow(entry, handle);
    for (const callId of await this.durable.answeredCallIds(stored.id)) entry.callerCalls.add(callId);
  }

  /** Waits as `StoredExecution.settle`; an execution whose end the store could not keep is its error (503). */
  async settle(entry: StoredExecution, waitMs: number, signal?: AbortSignal): Promise<void> {
    await entry.settle(waitMs, signal);
    const undurable = this.#undurable.get(entry);
    if (undurable) throw undurable;
  }

  /**
   * Applies every result or none: an id the execution never paused on fails the whole request. Answers
   * once the results are durable (on a durable node).
   */
  async submit(
    entry: StoredExecution,
    results: readonly CallSubmission[],
    signal?: AbortSignal,
  ): Promise<Array<{ callId: string; status: string }>> {
    if (entry.resumed) {
      // Replaying up to its pause: its pending calls are known once it gets there.
      await entry.settle(RESUME_WAIT_MS, signal);
      entry.resumed = false;
    }
    const statuses = entry.submit(results);
    await entry.handle?.whenDurable();
    const undurable = this.#undurable.get(entry);
    if (undurable) throw undurable;
    return statuses;
  }

  cancel(entry: StoredExecution, reason: string): void {
    if (entry.result) return;
    const queued = this.#queued.get(entry);
    if (queued) {
      this.#queued.delete(entry);
      queued.abort();
      this.#finish(entry, unstartedResult(entry, "cancelled", cancelledError(reason), this.engine.isolation));
      return;
    }
    entry.handle?.cancel(reason);
  }

  /** The owner's container if alive; 410 if it existed and ended; 404 otherwise. */
  async container(owner: string, id: string): Promise<Readonly<ContainerRecord>> {
    if (!this.durable) return this.#containers.live(owner, id);
    const { record, resumed } = await this.durable.live(owner, id);
    if (resumed) {
      // Requests that arrive while the container is being rebuilt share its placement: one adoption.
      let adopted = this.#adoptions.get(resumed);
      if (!adopted) {
        adopted = this.#adopt(owner, resumed);
        this.#adoptions.set(resumed, adopted);
      }
      await adopted;
    }
    return record;
  }

  describeContainer(record: Readonly<ContainerRecord>): ContainerView {
    return this.#containers.describe(record);
  }

  /**
   * Cancels the owner's container's executions, then ends it; its id is forgotten (404 afterwards). 404 for
   * unknown ids and other owners' containers.
   */
  async deleteContainer(owner: string, id: string): Promise<void> {
    const stored = await this.durable?.lookup(owner, id);
    // Live on a durable node: brought here first (or the request goes to the node holding it).
    if (stored?.status === "live") await this.container(owner, id);
    const record = stored ?? this.#containers.lookup(owner, id);
    if (record.endedAt === undefined) {
      for (const entry of this.#executions.values()) {
        if (entry.containerId === id) this.cancel(entry, "container deleted");
      }
    }
    if (this.durable) await this.durable.delete(id);
    this.engine.containers.delete(id);
  }

  /** Stops admitting, lets running executions finish for `graceMs`, then cancels the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    for (const entry of [...this.#queued.keys()]) this.cancel(entry, "the server is shutting down");
    // On a durable node a paused script needs no grace: left unfinished in the store, the next node resumes it.
    if (this.durable) {
      this.durable.node.drain();
      for (const entry of [...this.#running.keys()]) if (entry.isPaused()) this.cancel(entry, "handed over");
    }
    const finished = () => Promise.allSettled([...this.#running.keys()].map((entry) => entry.handle?.result));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const entry of [...this.#running.keys()]) this.cancel(entry, "the server is shutting down");
    await finished();
    this.#finished.close();
  }

  async #newContainer(owner: string): Promise<Readonly<ContainerRecord>> {
    if (!this.durable) return this.#containers.create(owner);
    return this.durable.newContainer(owner, () => this.#containers.create(owner));
  }

  async #deleteNew(containerId: string): Promise<void> {
    if (this.durable) await this.durable.delete(containerId).catch(() => undefined);
    this.engine.containers.delete(containerId);
  }

  async #start(entry: StoredExecution, release: AdmissionRelease): Promise<void> {
    // Its container counts against the quota from its first start (a queued one holds no sandbox yet).
    this.engine.containers.makeRoom(entry.containerId, this.owners);
    const turn = this.#turns.get(entry);
    const writeAhead = await this.durable?.begin(
      entry.containerId,
      entry.id,
      entry.owner,
      entry.request.code,
      entry.request,
    );
    const request: ExecuteRequest = {
      ...entry.request,
      container: entry.containerId,
      ...(turn ? { containerTurn: turn } : {}),
      executionId: entry.id,
      ...(writeAhead ? { writeAhead } : {}),
    };
    const handle = this.engine.execute(request);
    entry.attach(handle);
    this.#running.set(entry, release);
    void this.#follow(entry, handle);
  }

  async #startQueued(entry: StoredExecution, release: AdmissionRelease): Promise<void> {
    this.#queued.delete(entry);
    if (entry.result || this.#closing) {
      release();
      this.cancel(entry, "the server is shutting down");
      return;
    }
    try {
      await this.#start(entry, release);
    } catch (error) {
      release();
      this.#finish(entry, unstartedResult(entry, "failed", startError(error), this.engine.isolation));
    }
  }

  async #follow(entry: StoredExecution, handle: ExecutionHandle): Promise<void> {
    let result: StoredExecution["result"] & object;
    try {
      for await (const event of handle) entry.observe(event);
      result = await handle.result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const failure = { code: ErrorCode.SandboxUnavailable, type: "SandboxError", message };
      result = unstartedResult(entry, "failed", failure, this.engine.isolation);
    }
    if (this.durable) {
      // Write first, answer second: a result the store could not keep is not reported as one.
      const undurable = await this.durable.finish(entry.containerId, entry.id, handle, result);
      if (undurable) return this.#forget(entry, undurable);
    }
    this.#finish(entry, result);
  }

  /**
   * The store refused this execution's writes: its requests answer `error` (503), and this process lets
   * go of it and of its container's sandbox, whose state went past what the store holds. The store still
   * has both unfinished: the next request (here or on any node) rebuilds them by replay from it.
   */
  #forget(entry: StoredExecution, error: PtcError): void {
    this.#undurable.set(entry, error);
    this.#running.get(entry)?.();
    this.#running.delete(entry);
    this.#turns.get(entry)?.release();
    this.#turns.delete(entry);
    this.#executions.delete(entry.id);
    this.owners.release("execution", entry.id);
    this.engine.containers.release(entry.containerId);
    // Wakes the requests waiting on it (`settle`), which answer the error.
    entry.finish(
      unstartedResult(
        entry,
        "failed",
        { code: error.code, type: "StoreError", message: error.message },
        this.engine.isolation,
      ),
    );
  }

  #finish(entry: StoredExecution, result: StoredExecution["result"] & object): void {
    if (entry.result) return;
    entry.finish(result);
    this.#running.get(entry)?.();
    this.#running.delete(entry);
    this.#queued.delete(entry);
    this.#turns.get(entry)?.release();
    this.#turns.delete(entry);
    this.#finished.add(entry);
  }

  /** A finished execution read back from the store: retained as if it had finished here. */
  #retain(entry: StoredExecution, result: StoredExecution["result"] & object): void {
    entry.finish(result);
    this.#finished.add(entry);
  }
}
