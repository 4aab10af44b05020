import type Anthropic from "@anthropic-ai/sdk";
import { CODE_EXECUTION_TOOL_NAME } from "../../agent/code-execution-tool.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { UpstreamModel, UpstreamResponse } from "../../upstream/upstream-model.js";
import type { AdmissionController } from "../admission.js";
import { invalidRequest } from "./anthropic-errors.js";
import {
  answersMatch,
  type CodeExecutionContainers,
  type CodeRun,
  type ContainerState,
} from "./code-execution-session.js";
import { type RefusedCall, type RefusedCallStore, refusalReason } from "./refused-calls.js";
import { type CodeCallAnswer, codeCallAnswers, type ValidatedRequest, validateRequest } from "./request-validation.js";
import {
  codeExecutionResultBlock,
  invalidCodeInputBlock,
  newServerToolUseId,
  newToolUseId,
  textBlock,
  UsageTotals,
} from "./response-builder.js";
import { type RequestTools, requestTools, type UpstreamViewBlock, upstreamRequest } from "./upstream-conversion.js";

export interface LoopDependencies {
  engine: Engine;
  upstream: UpstreamModel;
  store: CodeExecutionContainers;
  /** Refused calls of turns that ended a response with calls for the client, for the requests that answer them. */
  refusals: RefusedCallStore;
  serverTools: readonly ToolDefinition[];
  maxUpstreamTurns: number;
  executionLimits: Partial<ExecutionLimits> | undefined;
  admission: AdmissionController | undefined;
}

/** Where the loop puts what it produces; the streaming encoder writes each block as it comes. */
export interface LoopSink {
  block(block: Anthropic.ContentBlock): void;
  /** Called before each upstream call (the stream starts its message then, not on a resumed pause). */
  upstreamCall(): void;
}

export interface LoopOutcome {
  stopReason: Anthropic.StopReason;
  stopSequence: string | null;
  usage: UsageTotals;
  container: Anthropic.Container | null;
}

/** A request that passed validation, holding its container (if any) until `run` ends. */
export interface PreparedRequest {
  request: ValidatedRequest;
  tools: RequestTools;
  answers: CodeCallAnswer[] | undefined;
  run(sink: LoopSink, signal: AbortSignal): Promise<LoopOutcome>;
}

/**
 * Validates the request and checks it against its container, so that every 4xx is known before a
 * response (or a stream) starts. `run` drives the loop: upstream → code → pause or upstream again.
 */
export async function prepareRequest(deps: LoopDependencies, body: unknown, owner: string): Promise<PreparedRequest> {
  const request = validateRequest(body);
  const tools = requestTools(request, deps.serverTools);
  const named = request.container === undefined ? undefined : await deps.store.get(request.container, owner);
  const answers = codeCallAnswers(request, named?.codeCallIds ?? new Set());
  if (answers && request.codeTool === undefined) {
    throw invalidRequest("tools: the code execution tool is required to answer tool calls made by code execution");
  }
  if (answers && named?.run) named.run.checkAnswers(answers);
  else if (answers && !answersMatch(named?.unsent, answers)) {
    throw invalidRequest(`container ${request.container}: there is no paused code execution for these tool results`);
  }
  const loop = new MessageLoop(deps, request, tools, owner, named);
  return { request, tools, answers, run: (sink, signal) => loop.run(sink, signal, answers) };
}

class MessageLoop {
  readonly #produced: Anthropic.ContentBlock[] = [];
  /** `#produced` plus the refused calls this response answered upstream itself: what the upstream sees of it. */
  readonly #upstreamView: UpstreamViewBlock[] = [];
  readonly #usage = new UsageTotals();
  readonly #releaseOnEnd: Array<() => void> = [];
  #sink: LoopSink | undefined;
  #signal: AbortSignal = new AbortController().signal;
  #state: ContainerState | undefined;

  constructor(
    private readonly deps: LoopDependencies,
    private readonly request: ValidatedRequest,
    private readonly tools: RequestTools,
    private readonly owner: string,
    named: ContainerState | undefined,
  ) {
    this.#state = named;
  }

  async run(sink: LoopSink, signal: AbortSignal, answers: CodeCallAnswer[] | undefined): Promise<LoopOutcome> {
    this.#sink = sink;
    this.#signal = signal;
    const named = this.#state;
    try {
      if (!named) return await this.#loop(answers);
      return await this.deps.store.exclusive(named, () => this.#resume(named, answers));
    } finally {
      for (const release of this.#releaseOnEnd.splice(0)) release();
    }
  }

  /** The loop on a named container; a resume that fails after its script ended keeps what it produced. */
  async #resume(state: ContainerState, answers: CodeCallAnswer[] | undefined): Promise<LoopOutcome> {
    try {
      return await this.#loop(answers);
    } catch (error) {
      if (answers && !state.run && this.#produced.length > 0) {
        state.unsent = { answered: new Set(answers.map((answer) => answer.toolUseId)), blocks: [...this.#produced] };
      }
      throw error;
    }
  }

  async #loop(answers: CodeCallAnswer[] | undefined): Promise<LoopOutcome> {
    const state = this.#state;
    const unsent = state?.unsent;
    if (state) state.unsent = undefined;
    if (answers && state?.run) {
      // Held here: the container may end while the run replays (its rebuild diverged), which drops `state.run`.
      const run = state.run;
      run.checkAnswers(answers);
      // A script resumed by replay takes answers once it is back at its pause.
      await run.ready(this.#signal);
      if (!run.resend(answers)) for (const answer of answers) run.submit(answer);
      if ((await this.#drive(state)) === "paused") return this.#end("tool_use", null);
    } else if (answers && unsent && answersMatch(unsent, answers)) {
      // The same resume sent again after the upstream failed: carry on from the script's result.
      for (const block of unsent.blocks) this.#emit(block);
    } else if (answers) {
      throw invalidRequest(`container ${state?.id}: there is no paused code execution for these tool results`);
    } else if (state?.run) {
      // The client moved on without answering the paused script: it will never be resumed.
      state.run.cancel("abandoned by the client");
      state.run = undefined;
      state.queued = [];
    }
    for (let turn = 0; turn < this.deps.maxUpstreamTurns; turn++) {
      this.#sink?.upstreamCall();
      const response = await this.deps.upstream.createMessage(
        upstreamRequest(this.request, this.tools, {
          produced: this.#upstreamView,
          knownCodeCallIds: this.#state?.codeCallIds ?? new Set(),
          refusedBeside: (id) => this.deps.refusals.lookup(this.owner, id),
          forceToolChoice: turn === 0 && !answers,
        }),
        { signal: this.#signal },
      );
      this.#usage.addUpstream(response.usage);
      const step = await this.#handleReply(response);
      if (step !== "continue") return step;
    }
    return this.#end("pause_turn", null);
  }

  /**
   * Emits the reply's blocks in order, running each `code_execution` call as it comes. Direct calls of a
   * code-only or unknown tool are never emitted: the upstream gets an error tool_result for each, with this
   * response's next upstream call, or, when the turn also has calls for the client, with the client's answers.
   */
  async #handleReply(response: UpstreamResponse): Promise<LoopOutcome | "continue"> {
    let ranCode = false;
    let directCalls = 0;
    let paused = false;
    const refused: RefusedCall[] = [];
    /** The turn's calls the client sees; its refused calls are kept beside them for the next request. */
    const clientCallIds: string[] = [];
    for (const block of response.content) {
      if (block.type === "text") {
        if (block.text !== "") this.#emit(textBlock(block.text));
        continue;
      }
      const reason = refusalReason(this.request, this.deps.serverTools, block.name);
      if (reason !== undefined) {
        refused.push({ id: block.id, name: block.name, input: block.input, reason });
      } else if (block.name === CODE_EXECUTION_TOOL_NAME && this.request.codeTool !== undefined) {
        const serverToolUseId = newServerToolUseId();
        clientCallIds.push(serverToolUseId);
        const input = (block.input ?? {}) as Record<string, unknown>;
        this.#emit({
          type: "server_tool_use",
          id: serverToolUseId,
          name: "code_execution",
          input,
          caller: { type: "direct" },
        });
        ranCode = true;
        const state = await this.#container();
        if (paused) state.queued.push({ serverToolUseId, input });
        else paused = (await this.#startCode(state, serverToolUseId, input)) === "paused";
      } else {
        directCalls++;
        clientCallIds.push(block.id);
        this.#emit({
          type: "tool_use",
          id: block.id,
          name: block.name,
          input: block.input,
          caller: { type: "direct" },
        });
      }
    }
    this.#usage.addRefused(refused.length);
    if (paused || directCalls > 0) {
      this.deps.refusals.remember(this.owner, clientCallIds, refused);
      return this.#end("tool_use", null);
    }
    if (refused.length > 0) this.#upstreamView.push({ type: "ptc_refused_calls", calls: refused });
    if (ranCode || refused.length > 0) return "continue";
    return this.#end(response.stop_reason, response.stop_sequence);
  }

  /** The request's container, created on its first code call; held so it cannot expire under the request. */
  async #container(): Promise<ContainerState> {
    if (this.#state) return this.#state;
    const state = await this.deps.store.create(this.owner);
    this.#state = state;
    this.#releaseOnEnd.push(this.deps.store.hold(state));
    return state;
  }

  async #startCode(
    state: ContainerState,
    serverToolUseId: string,
    input: Record<string, unknown>,
  ): Promise<"paused" | "done"> {
    const code = input.code;
    if (typeof code !== "string") {
      this.#emit(invalidCodeInputBlock(serverToolUseId));
      return "done";
    }
    // A slot of the server's admission controller for the script's whole life, pauses included.
    const release = await this.deps.admission?.acquire(this.#signal);
    const callerType = this.request.codeTool ?? "code_execution_20260120";
    let handle: ReturnType<Engine["execute"]>;
    try {
      const durable = await this.deps.store.durable?.begin(state.id, this.owner, code, {
        tools: this.tools.engineTools,
        serverToolUseId,
        callerType,
      });
      handle = this.deps.engine.execute({
        code,
        container: state.id,
        ...(state.turn ? { containerTurn: state.turn } : {}),
        tools: this.tools.engineTools,
        resultMode: "text",
        // The engine's call ids are the tool_use ids the client sees: the journal keeps them across restarts.
        newCallId: newToolUseId,
        ...(durable ? { executionId: durable.executionId, writeAhead: durable.writeAhead } : {}),
        ...(this.deps.executionLimits ? { limits: this.deps.executionLimits } : {}),
      });
    } catch (error) {
      release?.();
      throw error;
    }
    if (release) void handle.result.then(release, release);
    state.run = this.deps.store.run(state, handle, serverToolUseId, callerType);
    return this.#drive(state);
  }

  /** Waits for the container's script to pause or end; on its end, starts the next queued code call. */
  async #drive(state: ContainerState): Promise<"paused" | "done"> {
    while (state.run) {
      const run = state.run;
      let outcome: Awaited<ReturnType<CodeRun["next"]>>;
      try {
        outcome = await run.next(this.#signal);
      } catch (error) {
        // The client went away mid-run: nobody will see this script's calls, nor run what was queued behind it.
        run.cancel("client disconnected");
        state.run = undefined;
        state.queued = [];
        throw error;
      }
      if (outcome.kind === "paused") {
        for (const { toolUseId, call } of outcome.calls) {
          state.codeCallIds.add(toolUseId);
          this.#emit({
            type: "tool_use",
            id: toolUseId,
            name: call.name,
            input: call.input,
            caller: { type: run.callerType, tool_id: run.serverToolUseId } as Anthropic.ToolUseBlock["caller"],
          });
        }
        return "paused";
      }
      state.run = undefined;
      this.#usage.addExecution(outcome.result);
      this.#emit(codeExecutionResultBlock(run.serverToolUseId, outcome.result));
      const next = state.queued.shift();
      if (next && (await this.#startCode(state, next.serverToolUseId, next.input)) === "paused") return "paused";
    }
    return "done";
  }

  #emit(block: Anthropic.ContentBlock): void {
    this.#produced.push(block);
    this.#upstreamView.push(block);
    this.#sink?.block(block);
  }

  #end(stopReason: Anthropic.StopReason, stopSequence: string | null): LoopOutcome {
    const state = this.#state;
    return {
      stopReason,
      stopSequence,
      usage: this.#usage,
      container: state ? { id: state.id, expires_at: this.deps.store.expiresAt(state), skills: null } : null,
    };
  }
}
