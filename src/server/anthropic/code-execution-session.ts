import type Anthropic from "@anthropic-ai/sdk";
import type { ContainerTurn } from "../../engine/container-manager.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult, ToolCallRequest } from "../../protocol/execution.js";
import type { ResourceOwners } from "../resource-owners.js";
import { invalidRequest, notFound } from "./anthropic-errors.js";
import type { CodeCallAnswer } from "./request-validation.js";
import { newToolUseId } from "./response-builder.js";
import type { CodeToolVersion } from "./tool-validation.js";

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
  readonly #toolUseIds = new Map<string, string>();
  readonly #reported = new Set<string>();
  /** tool_use ids the client has answered (a second answer to one is a resent request, not a resume). */
  readonly #answered = new Set<string>();
  #wakeups: Array<() => void> = [];
  #result: ExecutionResult | undefined;

  constructor(
    readonly handle: ExecutionHandle,
    readonly serverToolUseId: string,
    readonly callerType: CodeToolVersion,
  ) {
    void this.#consume();
    void handle.result.then((result) => {
      this.#result = result;
      this.#wake();
    });
  }

  get finished(): boolean {
    return this.#result !== undefined;
  }

  /** Ids of every `tool_use` this run reported to the client. */
  toolUseIds(): ReadonlySet<string> {
    return new Set(this.#toolUseIds.keys());
  }

  /**
   * Refuses answers this run cannot take: a tool_use it never reported, or one the client already
   * answered (a request sent again after the script moved on would otherwise wait for calls it never answers).
   */
  checkAnswers(answers: readonly CodeCallAnswer[]): void {
    for (const { toolUseId } of answers) {
      if (!this.#toolUseIds.has(toolUseId)) {
        throw invalidRequest(`tool_result ${toolUseId} does not answer a call of the paused code execution`);
      }
      if (this.#answered.has(toolUseId)) {
        throw invalidRequest(
          `tool_result ${toolUseId} answers a call that was already answered; the script has moved on: send the tool_results for the tool_use blocks of the latest response`,
        );
      }
    }
  }

  /** Hands the client's answer to the script; a call that already timed out in the script is ignored. */
  submit(answer: CodeCallAnswer): void {
    this.checkAnswers([answer]);
    const callId = this.#toolUseIds.get(answer.toolUseId) as string;
    this.#answered.add(answer.toolUseId);
    try {
      this.handle.submitToolResult(callId, answer.isError ? { error: answer.text } : { value: answer.text });
    } catch (error) {
      // The call timed out or the script ended meanwhile: the script has moved on, as on Anthropic's API.
      if (!PtcError.is(error, ErrorCode.UnknownToolCall)) throw error;
    }
  }

  /** Waits until the script pauses on newly pending calls or ends. */
  async next(signal: AbortSignal): Promise<RunOutcome> {
    while (true) {
      if (this.#result) return { kind: "done", result: this.#result };
      if (signal.aborted) throw signal.reason ?? new Error("aborted");
      const fresh = this.handle.isPaused()
        ? this.handle.pendingToolCalls().filter((call) => !this.#reported.has(call.id))
        : [];
      if (fresh.length > 0) {
        return {
          kind: "paused",
          calls: fresh.map((call) => {
            const toolUseId = newToolUseId();
            this.#reported.add(call.id);
            this.#toolUseIds.set(toolUseId, call.id);
            return { toolUseId, call };
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

/** `/v1/messages`' containers in the engine's `ContainerManager` (the executions API's are not its). */
export const MESSAGES_ORIGIN = "messages";

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
  create(owner: string): ContainerState {
    const { id } = this.engine.containers.create(owner, { origin: MESSAGES_ORIGIN, quota: this.owners });
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

  /** The caller's container; another key's container is reported exactly like an unknown one. */
  get(id: string, owner: string): ContainerState {
    const record = this.engine.containers.record(id);
    const state = this.#states.get(id);
    if (record?.owner === owner && record.origin === MESSAGES_ORIGIN) {
      if (record.endedAt === undefined && state) return state;
      const why =
        record.endReason === "evicted"
          ? "was ended to make room for a newer container of this API key (its container quota or the server's cap was reached)"
          : `has expired (containers are removed after ${Math.round(this.idleTimeoutMs / 1000)} s without use)`;
      // Anthropic's rendering says it as a 400 led by the code: `container_expired: container …`.
      throw new PtcError(
        ErrorCode.ContainerExpired,
        `container ${id} ${why}, with its Python state and any paused code. Send the request again without "container" to start a new one.`,
      );
    }
    throw notFound(`container ${id} not found`);
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
