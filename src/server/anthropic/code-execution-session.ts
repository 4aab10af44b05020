import type Anthropic from "@anthropic-ai/sdk";
import type { ContainerTurn } from "../../engine/container-manager.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult } from "../../protocol/execution.js";
import { CodeRun } from "../code-run.js";
import type { ResourceOwners } from "../resource-owners.js";
import { notFound } from "./anthropic-errors.js";
import { containerGone, type DurableMessages, MESSAGES_ORIGIN } from "./durable-messages.js";
import type { CodeCallAnswer } from "./request-validation.js";
import type { CodeToolVersion } from "./tool-validation.js";

export { CodeRun, type ReportedCall, type RunOutcome } from "../code-run.js";
export { MESSAGES_ORIGIN } from "./durable-messages.js";

/** A code call the upstream made in the same turn as a paused one; it runs once that one ends. */
export interface QueuedCode {
  serverToolUseId: string;
  input: Record<string, unknown>;
}

/**
 * What a resumed request produced before it failed (the upstream erred after the script ended): sent
 * again, the same tool_results carry on from these blocks instead of finding no paused script.
 */
export interface UnsentBlocks {
  /** The tool_use ids that request answered. */
  answered: ReadonlySet<string>;
  blocks: Anthropic.ContentBlock[];
}

/** True when `answers` are the ones whose request left `unsent`. */
export function answersMatch(unsent: UnsentBlocks | undefined, answers: readonly CodeCallAnswer[]): boolean {
  return unsent !== undefined && answers.every((answer) => unsent.answered.has(answer.toolUseId));
}

/** The endpoint's side state of one of its containers (the container itself is the engine's `ContainerManager`'s). */
export interface ContainerState {
  readonly id: string;
  readonly owner: string;
  run: CodeRun | undefined;
  queued: QueuedCode[];
  /** Blocks a failed resume produced, for the same resume sent again (one request's worth, cleared by the next). */
  unsent: UnsentBlocks | undefined;
  /** Every tool_use id reported for a call made by code in this container (a client may drop `caller`). */
  codeCallIds: Set<string>;
  /** The turn the request using the container holds (`ContainerManager.turn`): its scripts run in it. */
  turn: ContainerTurn | undefined;
}

/**
 * `/v1/messages`' side of its containers: the script paused in each and what the next request needs, keyed
 * by container id and dropped when the engine's `ContainerManager` ends the container. Ids, owners, idle
 * expiry, tombstones, turns and the per-key quota are the manager's.
 */
export class CodeExecutionContainers {
  readonly #states = new Map<string, ContainerState>();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly engine: Engine,
    private readonly owners: ResourceOwners,
    /** On a durable node: containers and scripts in the store, brought back here when this process lacks them. */
    readonly durable?: DurableMessages,
  ) {
    this.#unsubscribe = engine.containers.onContainerEnded((record) => {
      const state = this.#states.get(record.id);
      if (!state) return;
      this.#states.delete(record.id);
      state.run?.cancel(record.endReason === "evicted" ? "container ended to make room" : "container expired");
      state.run = undefined;
      state.queued = [];
    });
  }

  get idleTimeoutMs(): number {
    return this.engine.containers.idleTimeoutMs;
  }

  /**
   * A new container for `owner`. Makes room first: while the key holds its container quota or the server
   * its cap, the key's own least recently used idle container is ended (never another key's); with none
   * idle, the quota's `PtcError` (`key_container_quota_exceeded` or `container_cap_reached`: a 429
   * `rate_limit_error` with `Retry-After`, its message led by the code).
   */
  async create(owner: string): Promise<ContainerState> {
    const create = () => this.engine.containers.create(owner, { origin: MESSAGES_ORIGIN, quota: this.owners });
    const { id } = this.durable ? await this.durable.create(owner, create) : create();
    return this.#add(id, owner);
  }

  #add(id: string, owner: string): ContainerState {
    const state: ContainerState = {
      id,
      owner,
      run: undefined,
      queued: [],
      unsent: undefined,
      codeCallIds: new Set(),
      turn: undefined,
    };
    this.#states.set(id, state);
    return state;
  }

  /**
   * The caller's container; another key's container is reported exactly like an unknown one. On a durable
   * node, one this process does not hold is brought back (its paused script resumed by replay) or its
   * request forwarded to the node holding it (`ContainerElsewhere`).
   */
  async get(id: string, owner: string): Promise<ContainerState> {
    const record = this.engine.containers.record(id);
    const state = this.#states.get(id);
    if (record?.owner === owner && record.origin === MESSAGES_ORIGIN) {
      if (record.endedAt === undefined && state) return state;
      if (!this.durable) throw containerGone(id, record.endReason, this.idleTimeoutMs);
    }
    if (!this.durable) throw notFound(`container ${id} not found`);
    const restored = await this.durable.restore(id, owner);
    if (restored === undefined) throw notFound(`container ${id} not found`);
    if ("status" in restored) throw containerGone(id, restored.endReason, this.idleTimeoutMs);
    // Two requests may have brought it back at once: the first one's state stands.
    const current = this.#states.get(id);
    if (current) return current;
    const added = this.#add(id, owner);
    for (const callId of restored.codeCallIds) added.codeCallIds.add(callId);
    const script = restored.script;
    if (script) {
      const { reported, answered } = script;
      added.run = this.run(added, script.handle, script.serverToolUseId, script.callerType, { reported, answered });
    }
    return added;
  }

  /** A script run in `state`'s container; on a durable node its result is recorded before it counts as done. */
  run(
    state: ContainerState,
    handle: ExecutionHandle,
    serverToolUseId: string,
    callerType: CodeToolVersion,
    resumed?: ConstructorParameters<typeof CodeRun>[3],
  ): CodeRun {
    const durable = this.durable;
    const record =
      durable &&
      (async (result: ExecutionResult) => {
        // Its rebuild by replay diverged: the engine ended the container as lost (there is nothing to record
        // the end under), and the request is answered as for any container that is gone.
        if (result.error?.code === ErrorCode.ReplayDiverged) throw containerGone(state.id, "lost", this.idleTimeoutMs);
        await durable.finish(state.id, handle.id, handle, result);
      });
    return new CodeRun(handle, serverToolUseId, callerType, resumed, record);
  }

  /**
   * Runs `work` holding a turn in the container, once its earlier requests are done (the container does
   * not expire meanwhile); the scripts `work` starts run in that turn. A new container's first request
   * gets its turn at once.
   */
  async exclusive<T>(state: ContainerState, work: () => Promise<T>): Promise<T> {
    let turn: ContainerTurn;
    try {
      turn = this.engine.containers.turn(state.id);
    } catch (error) {
      if (!PtcError.is(error, ErrorCode.ContainerQueueFull)) throw error;
      throw new PtcError(error.code, error.message, {}, { retryAfterSeconds: this.owners.retryAfterSeconds });
    }
    try {
      await turn.granted;
      state.turn = turn;
      return await work();
    } finally {
      if (state.turn === turn) state.turn = undefined;
      turn.release();
    }
  }

  /** Holds a turn in a container just created for this request (granted at once); returns its release. */
  hold(state: ContainerState): () => void {
    const turn = this.engine.containers.turn(state.id);
    state.turn = turn;
    return () => {
      if (state.turn === turn) state.turn = undefined;
      turn.release();
    };
  }

  /** While a request holds the container, it is in use now: it expires the idle timeout after the request. */
  expiresAt(state: ContainerState): string {
    const record = this.engine.containers.record(state.id);
    const expiresAt = state.turn || !record ? Date.now() + this.idleTimeoutMs : record.expiresAt;
    return new Date(expiresAt).toISOString();
  }

  /** Stops following the engine's containers and ends this endpoint's. */
  close(): void {
    this.#unsubscribe();
    for (const id of [...this.#states.keys()]) this.engine.containers.end(id, "closed");
    this.#states.clear();
  }
}
