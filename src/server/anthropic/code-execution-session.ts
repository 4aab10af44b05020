import type Anthropic from "@anthropic-ai/sdk";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult, ToolCallRequest } from "../../protocol/execution.js";
import {
  type ContainerHolder,
  ContainerQuotaError,
  type LiveContainer,
  type ResourceOwners,
} from "../resource-owners.js";
import { AnthropicHttpError, invalidRequest, notFound } from "./anthropic-errors.js";
import type { CodeCallAnswer } from "./request-validation.js";
import { newContainerId, newToolUseId } from "./response-builder.js";
import type { CodeToolVersion } from "./tool-validation.js";

/** A call the script is waiting on, as reported to the client. */
export interface ReportedCall {
  toolUseId: string;
  call: ToolCallRequest;
}

export type RunOutcome = { kind: "paused"; calls: ReportedCall[] } | { kind: "done"; result: ExecutionResult };

/** Expired container ids remembered (per owner) so a late resume gets "expired", not "not found". */
const MAX_REMEMBERED_EXPIRED = 10_000;

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

/** A container as the endpoint sees it: an engine container plus the script paused in it, if any. */
export interface ContainerState {
  readonly id: string;
  readonly owner: string;
  lastUsed: number;
  run: CodeRun | undefined;
  queued: QueuedCode[];
  /** Blocks a failed resume produced, for the same resume sent again (one request's worth, cleared by the next). */
  unsent: UnsentBlocks | undefined;
  /** Every tool_use id reported for a call made by code in this container (a client may drop `caller`). */
  codeCallIds: Set<string>;
  /** Requests on one container run one after another. */
  tail: Promise<void>;
  active: number;
}

/**
 * Containers by id, owned by API keys, expired after `idleTimeoutMs` without use. Each counts against
 * `ResourceOwners`' container cap and per-key quota from its creation until it ends.
 */
export class ContainerStore implements ContainerHolder {
  readonly #containers = new Map<string, ContainerState>();
  /** Ended containers: their owner, and whether they idled out or were ended to make room. */
  readonly #expired = new Map<string, { owner: string; evicted: boolean }>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #detach: () => void;

  constructor(
    private readonly engine: Engine,
    private readonly owners: ResourceOwners,
    readonly idleTimeoutMs: number,
  ) {
    this.#sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(idleTimeoutMs / 4, 10_000)));
    this.#sweeper.unref();
    this.#detach = owners.addContainerHolder(this);
  }

  /**
   * A new container for `owner`. Makes room first: while the key holds its container quota or the server
   * its cap, the key's own least recently used idle container is ended (never another key's); with none
   * idle, 429 `rate_limit_error` with `Retry-After`, its message led by `key_container_quota_exceeded` or
   * `container_cap_reached`.
   */
  create(owner: string): ContainerState {
    let id = newContainerId();
    while (!this.owners.isFree("container", id)) id = newContainerId();
    try {
      this.owners.makeRoomForContainer(owner, id);
    } catch (error) {
      if (!(error instanceof ContainerQuotaError)) throw error;
      throw new AnthropicHttpError(429, "rate_limit_error", `${error.code}: ${error.message}`, error.headers);
    }
    this.owners.claim("container", id, owner);
    const state: ContainerState = {
      id,
      owner,
      lastUsed: Date.now(),
      run: undefined,
      queued: [],
      unsent: undefined,
      codeCallIds: new Set(),
      tail: Promise.resolve(),
      active: 0,
    };
    this.#containers.set(id, state);
    return state;
  }

  /** The caller's container; another key's container is reported exactly like an unknown one. */
  get(id: string, owner: string): ContainerState {
    const state = this.#containers.get(id);
    if (state && state.owner === owner && this.owners.owns("container", id, owner)) return state;
    const expired = this.#expired.get(id);
    if (expired?.owner === owner) {
      const why = expired.evicted
        ? "was ended to make room for a newer container of this API key (its container quota or the server's cap was reached)"
        : `has expired (containers are removed after ${Math.round(this.idleTimeoutMs / 1000)} s without use)`;
      throw new AnthropicHttpError(
        400,
        "invalid_request_error",
        `container_expired: container ${id} ${why}, with its Python state and any paused code. Send the request again without "container" to start a new one.`,
      );
    }
    throw notFound(`container ${id} not found`);
  }

  /** Runs `work` once the container's earlier requests are done; the container does not expire meanwhile. */
  async exclusive<T>(state: ContainerState, work: () => Promise<T>): Promise<T> {
    state.active++;
    const previous = state.tail;
    let release: () => void = () => {};
    state.tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      state.active--;
      state.lastUsed = Date.now();
      release();
    }
  }

  expiresAt(state: ContainerState): string {
    return new Date(state.lastUsed + this.idleTimeoutMs).toISOString();
  }

  sweep(now = Date.now()): void {
    for (const state of this.#containers.values()) {
      if (state.active === 0 && now - state.lastUsed > this.idleTimeoutMs) this.expire(state);
    }
  }

  /** Every container is live from its creation on (`ContainerHolder`); idle when nothing runs, waits or is paused in it. */
  *liveContainers(): Iterable<LiveContainer> {
    for (const state of this.#containers.values()) {
      const idle = state.active === 0 && (state.run === undefined || state.run.finished) && state.queued.length === 0;
      yield { id: state.id, owner: state.owner, lastUsed: state.lastUsed, idle };
    }
  }

  /** Ends an idle container to make room for a newer one of the same key (`ContainerHolder`). */
  endContainer(id: string): void {
    const state = this.#containers.get(id);
    if (state) this.expire(state, true);
  }

  expire(state: ContainerState, evicted = false): void {
    state.run?.cancel(evicted ? "container ended to make room" : "container expired");
    state.run = undefined;
    state.queued = [];
    this.#containers.delete(state.id);
    this.engine.closeContainer(state.id);
    this.owners.release("container", state.id);
    this.#expired.set(state.id, { owner: state.owner, evicted });
    if (this.#expired.size > MAX_REMEMBERED_EXPIRED) {
      const oldest = this.#expired.keys().next();
      if (!oldest.done) this.#expired.delete(oldest.value);
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#detach();
    for (const state of [...this.#containers.values()]) this.expire(state);
  }
}
