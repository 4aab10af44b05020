import type Anthropic from "@anthropic-ai/sdk";
import type { ContainerTurn } from "../../engine/container-manager.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult, ToolCallRequest } from "../../protocol/execution.js";
import type { ResourceOwners } from "../resource-owners.js";
import { invalidRequest, notFound } from "./anthropic-errors.js";
import { containerGone, type DurableMessages, MESSAGES_ORIGIN } from "./durable-messages.js";
import type { CodeCallAnswer } from "./request-validation.js";
import type { CodeToolVersion } from "./tool-validation.js";

export { MESSAGES_ORIGIN } from "./durable-messages.js";

/** A call the script is waiting on, as reported to the client. */
export interface ReportedCall {
  toolUseId: string;
  call: ToolCallRequest;
}

export type RunOutcome = { kind: "paused"; calls: ReportedCall[] } | { kind: "done"; result: ExecutionResult };

/**
 * One script run by `code_execution`: follows the execution's events and reports when the script is
 * paused on the client (the engine's `isPaused()`: the sandbox has nothing left to run but calls only
 * the client can answer, so every call of an `asyncio.gather` is reported together).
 */
export class CodeRun {
  /** Ids of the calls reported to the client: the engine's call ids, minted as `toolu_…` for this endpoint. */
  readonly #reported = new Set<string>();
  /** tool_use ids the client has answered (a second answer to one is a resent request, not a resume). */
  readonly #answered = new Set<string>();
  /** Answered before the script was resumed by replay: sent again, the request carries on from the script. */
  readonly #answeredBefore = new Set<string>();
  #resuming: boolean;
  #wakeups: Array<() => void> = [];
  #result: ExecutionResult | undefined;
  /** The result could not be made durable: the request fails (503), and nothing of it is reported. */
  #failure: unknown;

  constructor(
    readonly handle: ExecutionHandle,
    readonly serverToolUseId: string,
    readonly callerType: CodeToolVersion,
    /** A run resumed by replay: the calls its journal says were reported, and those already answered. */
    resumed?: { reported: readonly string[]; answered: readonly string[] },
    /** Makes the result durable (a durable node): the run counts as finished once this resolved. */
    record?: (result: ExecutionResult) => Promise<void>,
  ) {
    this.#resuming = resumed !== undefined;
    for (const id of resumed?.reported ?? []) this.#reported.add(id);
    for (const id of resumed?.answered ?? []) {
      this.#reported.add(id);
      this.#answeredBefore.add(id);
    }
    void this.#consume();
    void handle.result
      .then(async (result) => {
        await record?.(result);
        this.#result = result;
      })
      .catch((error: unknown) => {
        this.#failure = error;
      })
      .finally(() => this.#wake());
  }

  /**
   * A resumed run replays up to its pause first: answers for its pending calls can be applied once it
   * is there (or has ended). A run that failed on the way (its replay diverged: the container is gone)
   * throws that failure.
   */
  async ready(signal: AbortSignal): Promise<void> {
    while (this.#resuming && !this.#result && this.#failure === undefined && !this.handle.isPaused()) {
      if (signal.aborted) throw signal.reason ?? new Error("aborted");
      await this.#sleep(signal);
    }
    this.#resuming = false;
    if (this.#failure !== undefined) throw this.#failure;
  }

  get finished(): boolean {
    return this.#result !== undefined;
  }

  /** Ids of every `tool_use` this run reported to the client. */
  toolUseIds(): ReadonlySet<string> {
    return new Set(this.#reported);
  }

  /**
   * Refuses answers this run cannot take: a tool_use it never reported, or one the client already
   * answered (a request sent again after the script moved on would otherwise wait for calls it never answers).
   */
  checkAnswers(answers: readonly CodeCallAnswer[]): void {
    for (const { toolUseId } of answers) {
      // Applied before a restart and sent again (the response was lost with the server): nothing to do.
      if (this.#answeredBefore.has(toolUseId)) continue;
      if (!this.#reported.has(toolUseId)) {
        throw invalidRequest(`tool_result ${toolUseId} does not answer a call of the paused code execution`);
      }
      if (this.#answered.has(toolUseId)) {
        throw invalidRequest(
          `tool_result ${toolUseId} answers a call that was already answered; the script has moved on: send the tool_results for the tool_use blocks of the latest response`,
        );
      }
    }
  }

  /**
   * A request that carries only answers applied before the script was resumed is that request sent again
   * (its response was lost with the server): the calls the script is paused on are reported again, with
   * the ids they had, as the lost response reported them.
   */
  resend(answers: readonly CodeCallAnswer[]): boolean {
    if (answers.length === 0 || !answers.every((answer) => this.#answeredBefore.has(answer.toolUseId))) return false;
    for (const call of this.handle.pendingToolCalls()) this.#reported.delete(call.id);
    return true;
  }

  /** Hands the client's answer to the script; a call that already timed out in the script is ignored. */
  submit(answer: CodeCallAnswer): void {
    this.checkAnswers([answer]);
    if (this.#answeredBefore.has(answer.toolUseId)) return;
    this.#answered.add(answer.toolUseId);
    try {
      const submission = answer.isError ? { error: answer.text } : { value: answer.text };
      this.handle.submitToolResult(answer.toolUseId, submission);
    } catch (error) {
      // The call timed out or the script ended meanwhile: the script has moved on, as on Anthropic's API.
      if (!PtcError.is(error, ErrorCode.UnknownToolCall)) throw error;
    }
  }

  /** Waits until the script pauses on newly pending calls or ends. */
  async next(signal: AbortSignal): Promise<RunOutcome> {
    while (true) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#result) return { kind: "done", result: this.#result };
      if (signal.aborted) throw signal.reason ?? new Error("aborted");
      const fresh = this.handle.isPaused()
        ? this.handle.pendingToolCalls().filter((call) => !this.#reported.has(call.id))
        : [];
      if (fresh.length > 0) {
        return {
          kind: "paused",
          calls: fresh.map((call) => {
            this.#reported.add(call.id);
            return { toolUseId: call.id, call };
          }),
        };
      }
      await this.#sleep(signal);
    }
  }

  cancel(reason: string): void {
    if (!this.#result) this.handle.cancel(reason);
  }

  async #consume(): Promise<void> {
    for await (const _event of this.handle) this.#wake();
  }

  #wake(): void {
    const wakeups = this.#wakeups;
    this.#wakeups = [];
    for (const wake of wakeups) wake();
  }

  #sleep(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      this.#wakeups.push(done);
    });
  }
}

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
