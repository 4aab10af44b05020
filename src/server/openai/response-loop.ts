import { unknownToolMessage } from "../../agent/refused-tool-call.js";
import type { Engine } from "../../engine/engine.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { isJsonObject } from "../../protocol/json-schema.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { normalizeCallers } from "../../tools/allowed-callers.js";
import type { UpstreamModel, UpstreamResponse } from "../../upstream/upstream-model.js";
import type { RefusedCall, RefusedCallStore } from "../anthropic/refused-calls.js";
import { UsageTotals } from "../anthropic/response-builder.js";
import type { InputItem } from "./input-items.js";
import { functionCallItem, messageItem, newCallId, newProgramId, programOutputItem } from "./output-builder.js";
import type { OpenProgram } from "./program-continuation.js";
import { type ProgramSigner, toolsDigest } from "./program-fingerprint.js";
import { decodeOutput, type LiveProgram, newProgramSeed, type ProgramSessions } from "./program-session.js";
import { PROGRAM_TOOL_NAME, type ProgramTools } from "./program-tool.js";
import type { ResponsesRequest } from "./request-validation.js";
import type { OutputItem } from "./responses-types.js";
import { type ConversationEntry, upstreamRequest } from "./upstream-conversion.js";

export interface LoopDependencies {
  engine: Engine;
  upstream: UpstreamModel;
  sessions: ProgramSessions;
  signer: ProgramSigner;
  refusals: RefusedCallStore;
  serverTools: readonly ToolDefinition[];
  maxUpstreamTurns: number;
}

/** Where the loop puts the items it produces; the stream writes each as it comes. */
export interface LoopSink {
  item(item: OutputItem): void;
}

export interface LoopOutcome {
  usage: UsageTotals;
  /** The upstream stopped at `max_output_tokens`. */
  incomplete: boolean;
}

/** Why the upstream may not call `name` directly in this request, or undefined when it may. */
function refusalReason(
  request: ResponsesRequest,
  serverTools: readonly ToolDefinition[],
  name: string,
): string | undefined {
  if (name === PROGRAM_TOOL_NAME && request.programmatic) return undefined;
  const tool = request.tools.find((candidate) => candidate.name === name);
  if (tool?.direct) return undefined;
  const programOnly =
    tool?.programmatic ||
    (request.programmatic &&
      serverTools.some(
        (server) => server.name === name && normalizeCallers(server.allowedCallers).has("code_execution"),
      ));
  if (programOnly) {
    return `${name} can only be called from a program: call it as \`await tools.${name}({...})\` in ${PROGRAM_TOOL_NAME} code, not as a tool`;
  }
  return unknownToolMessage(name, "request");
}

/**
 * One `/v1/responses` request: continue the program it answers (if any), then upstream → programs → pause
 * or upstream again, until the upstream answers without calls, calls a function directly, or a program
 * pauses on calls for the client.
 */
export class ResponseLoop {
  /** What this response produced, plus the refused calls it answered upstream itself: what the upstream sees of it. */
  readonly #view: ConversationEntry[] = [];
  readonly #ours = new Set<unknown>();
  readonly #usage = new UsageTotals();
  /** The programs this response left paused on calls for the client. */
  readonly #paused: LiveProgram[] = [];
  #sink: LoopSink | undefined;
  #signal: AbortSignal = new AbortController().signal;

  constructor(
    private readonly deps: LoopDependencies,
    private readonly request: ResponsesRequest,
    private readonly tools: ProgramTools,
    private readonly owner: string,
    /** The conversation so far: the previous responses' items, then the request's input, references resolved. */
    private readonly conversation: readonly InputItem[],
    private readonly open: OpenProgram | undefined,
  ) {}

  async run(sink: LoopSink, signal: AbortSignal): Promise<LoopOutcome> {
    this.#sink = sink;
    this.#signal = signal;
    if (this.open) {
      // Checked even when nothing is answered: the upstream is never shown a program ptc did not sign.
      const seed = this.deps.signer.verify(this.open.item, toolsDigest(this.request.tools));
      if (this.open.answered.length > 0) {
        if ((await this.#continue(this.open, seed)) === "paused") return this.#end(false);
      } else {
        // The client moved on without its calls: the paused program will never be answered.
        const abandoned = this.deps.sessions.get(this.owner, this.open.item.call_id);
        if (abandoned) this.deps.sessions.cancel(abandoned, "abandoned by the client");
      }
    }
    for (let turn = 0; turn < this.deps.maxUpstreamTurns; turn++) {
      const response = await this.deps.upstream.createMessage(
        upstreamRequest(this.request, this.tools, {
          items: [...this.conversation, ...this.#view],
          ours: this.#ours,
          refusedBeside: (id) => this.deps.refusals.lookup(this.owner, id),
          forceToolChoice: turn === 0 && this.open === undefined,
        }),
        { signal: this.#signal },
      );
      this.#usage.addUpstream(response.usage);
      const step = await this.#handleReply(response);
      if (step !== "continue") return step;
    }
    return this.#end(false);
  }

  /**
   * The program the request answers: the live one in this process when it is still there (its pending calls
   * get the client's outputs), else a re-run of its code with every recorded call answered from the items,
   * after its fingerprint shows it is the code the model wrote, for these tools.
   */
  async #continue(open: OpenProgram, seed: number): Promise<"paused" | "done"> {
    const { item, answered } = open;
    const live = this.deps.sessions.get(this.owner, item.call_id);
    if (live && live.spec.code === item.code) {
      const byId = new Map(answered.map((call) => [call.callId, call]));
      for (const call of live.run.handle.pendingToolCalls()) {
        const answer = byId.get(call.id);
        if (!answer) throw new PtcError(ErrorCode.InvalidRequest, `No tool output found for function call ${call.id}.`);
        live.run.submitResult(call.id, decodeOutput(call.name, answer.output, this.tools));
      }
      return this.#drive(live);
    }
    const spec = { owner: this.owner, callId: item.call_id, code: item.code, seed, tools: this.tools };
    return this.#drive(await this.deps.sessions.start(spec, this.#signal, answered));
  }

  /**
   * Emits the reply's items in order, running each program as it comes. Direct calls of a programmatic-only
   * or unknown tool are never emitted: the upstream gets an error result for each, with this response's next
   * upstream call, or, when the turn also has calls for the client, with the client's outputs.
   */
  async #handleReply(response: UpstreamResponse): Promise<LoopOutcome | "continue"> {
    const hasCalls = response.content.some((block) => block.type === "tool_use");
    let ranProgram = false;
    let directCalls = 0;
    let paused = false;
    const refused: RefusedCall[] = [];
    const clientCallIds: string[] = [];
    for (const block of response.content) {
      if (block.type === "text") {
        if (block.text !== "") this.#emit(messageItem(block.text, hasCalls ? "commentary" : "final_answer"));
        continue;
      }
      const reason = refusalReason(this.request, this.deps.serverTools, block.name);
      const input = block.input;
      if (reason !== undefined) {
        refused.push({ id: block.id, name: block.name, input, reason });
      } else if (block.name === PROGRAM_TOOL_NAME) {
        const code = isJsonObject(input) ? input.code : undefined;
        if (typeof code !== "string" || paused) {
          const why = paused
            ? `another program of this turn is paused on tool calls: call ${PROGRAM_TOOL_NAME} again once it has ended`
            : `${PROGRAM_TOOL_NAME} takes {"code": "<JavaScript>"}`;
          refused.push({ id: block.id, name: block.name, input, reason: why });
          continue;
        }
        ranProgram = true;
        const callId = newCallId();
        clientCallIds.push(callId);
        paused = (await this.#startProgram(callId, code)) === "paused";
      } else {
        directCalls++;
        const callId = newCallId();
        clientCallIds.push(callId);
        this.#emit(functionCallItem(callId, block.name, input));
      }
    }
    this.#usage.addRefused(refused.length);
    if (paused || directCalls > 0) {
      this.deps.refusals.remember(this.owner, clientCallIds, refused);
      return this.#end(false);
    }
    if (refused.length > 0) {
      const block = { type: "ptc_refused_calls" as const, calls: refused };
      this.#ours.add(block);
      this.#view.push(block);
    }
    if (ranProgram || refused.length > 0) return "continue";
    return this.#end(response.stop_reason === "max_tokens");
  }

  async #startProgram(callId: string, code: string): Promise<"paused" | "done"> {
    const seed = newProgramSeed();
    const fingerprint = this.deps.signer.sign({ callId, code, seed, tools: toolsDigest(this.request.tools) });
    this.#emit({ id: newProgramId(), type: "program", call_id: callId, code, fingerprint });
    const spec = { owner: this.owner, callId, code, seed, tools: this.tools };
    return this.#drive(await this.deps.sessions.start(spec, this.#signal));
  }

  /** Waits for the program to pause on calls for the client (reported as function calls) or to end. */
  async #drive(program: LiveProgram): Promise<"paused" | "done"> {
    let outcome: Awaited<ReturnType<LiveProgram["run"]["next"]>>;
    try {
      outcome = await program.run.next(this.#signal);
    } catch (error) {
      // The client went away mid-run: nobody will see this program's calls.
      this.deps.sessions.cancel(program, "client disconnected");
      throw error;
    }
    if (outcome.kind === "paused") {
      this.#paused.push(program);
      for (const { toolUseId, call } of outcome.calls) {
        this.#emit(functionCallItem(toolUseId, call.name, call.input, program.spec.callId));
      }
      return "paused";
    }
    this.#usage.addExecution(outcome.result);
    this.#emit(programOutputItem(program.spec.callId, outcome.result));
    return "done";
  }

  /**
   * Cancels the programs this response left paused: it could not be kept (`store: true` refused), so the
   * client never gets it, and nothing should hold a sandbox and an admission slot until their calls time out.
   */
  abandon(reason: string): void {
    for (const program of this.#paused.splice(0)) this.deps.sessions.cancel(program, reason);
  }

  #emit(item: OutputItem): void {
    this.#view.push(item);
    this.#sink?.item(item);
  }

  #end(incomplete: boolean): LoopOutcome {
    return { usage: this.#usage, incomplete };
  }
}
