import { randomBytes } from "node:crypto";
import type { Engine, ExecuteRequest } from "../../engine/engine.js";
import { argsSha256, type JournaledCall } from "../../engine/replay.js";
import type { ToolResultSubmission } from "../../engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { AdmissionController } from "../admission.js";
import { CodeRun } from "../code-run.js";
import type { ContentPart } from "./input-items.js";
import { newCallId } from "./output-builder.js";
import type { ProgramTools } from "./program-tool.js";
import { parseArguments, partsText } from "./upstream-conversion.js";

/** `/v1/responses`' containers in the engine's `ContainerManager` (one per running program). */
export const RESPONSES_ORIGIN = "responses";
/** The `ToolError` code a program sees when a tool's output is not the JSON its `output_schema` promises. */
export const INVALID_TOOL_OUTPUT_CODE = "invalid_tool_output";

/** A program as ptc runs it: what the model wrote, the seed it runs with, the tools of its request. */
export interface ProgramSpec {
  owner: string;
  callId: string;
  code: string;
  seed: number;
  tools: ProgramTools;
}

/** One program call the client answered, from its `function_call` and `function_call_output` items. */
export interface AnsweredCall {
  callId: string;
  name: string;
  arguments: string;
  output: string | ContentPart[];
}

/** A program running (or paused on the client) in this process. */
export interface LiveProgram {
  readonly spec: ProgramSpec;
  readonly run: CodeRun<"program">;
}

/** A fresh seed for a program's container (`Math.random` in the guest); the fingerprint carries it. */
export function newProgramSeed(): number {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * What the program receives for a client's output: the text (an output given as content parts is its text
 * parts joined; images are dropped, a program has no use for them), parsed as JSON when the tool declares an
 * `output_schema` (its outputs are JSON strings, OpenAI says). Output that is not JSON fails the call: the
 * program sees a ToolError (`invalid_tool_output`) it can catch, rather than a string it would misread.
 */
export function decodeOutput(name: string, output: string | ContentPart[], tools: ProgramTools): ToolResultSubmission {
  const text = partsText(output);
  if (!tools.jsonOutputs.has(name)) return { value: text };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : "malformed JSON";
    return {
      error: {
        code: INVALID_TOOL_OUTPUT_CODE,
        message: `the output of ${name} is not the JSON its output_schema describes: ${reason}`,
      },
    };
  }
}

/** The client's answered calls as the journal a re-run answers them from, checked call by call. */
export function journalOf(calls: readonly AnsweredCall[], tools: ProgramTools): JournaledCall[] {
  return calls.map((call, index) => {
    const submission = decodeOutput(call.name, call.output, tools);
    const outcome =
      "error" in submission && typeof submission.error === "object"
        ? { ok: false as const, error: submission.error as { code: string; message: string } }
        : { ok: true as const, value: ("value" in submission ? submission.value : "") as JsonValue };
    return {
      tool: call.name,
      argsSha256: argsSha256(parseArguments(call.arguments)),
      outcome,
      completedOrder: index + 1,
      callId: call.callId,
    };
  });
}

/**
 * The programs running in this process, by API key and program call id. A program runs in a container of
 * its own (a fresh JavaScript runtime, seeded from its fingerprint) and holds a slot of the server's
 * admission controller until it ends, pauses included. One that ends while nobody waits on it (its pending
 * calls timed out, the server shut down) leaves the map: the client's next answers re-run it by replay.
 */
export class ProgramSessions {
  readonly #live = new Map<string, LiveProgram>();

  constructor(
    private readonly engine: Engine,
    private readonly admission: AdmissionController | undefined,
    private readonly executionLimits: Partial<ExecutionLimits> | undefined,
  ) {}

  /** The key's live program `callId`, if this process runs it. */
  get(owner: string, callId: string): LiveProgram | undefined {
    const program = this.#live.get(key(owner, callId));
    return program && !program.run.finished ? program : undefined;
  }

  /**
   * Starts the program; with `answered`, re-runs it with those calls answered from the client's items (a
   * restart, another node): it then goes on live from the first call past them. A re-run that makes other
   * calls than the items record fails with `replay_diverged` once `ready` is awaited.
   */
  async start(spec: ProgramSpec, signal: AbortSignal, answered?: readonly AnsweredCall[]): Promise<LiveProgram> {
    const previous = this.#live.get(key(spec.owner, spec.callId));
    if (previous) this.cancel(previous, "replaced by a re-run");
    const journal = answered ? journalOf(answered, spec.tools) : undefined;
    // A slot of the server's admission controller for the program's whole life, pauses included.
    const release = await this.admission?.acquire(signal);
    const containerId = `prog_${randomBytes(12).toString("base64url")}`;
    let run: CodeRun<"program">;
    try {
      this.engine.containers.reopen(containerId, { seed: spec.seed, owner: spec.owner, origin: RESPONSES_ORIGIN });
      const request: ExecuteRequest = {
        language: "javascript",
        code: spec.code,
        container: containerId,
        tools: spec.tools.engineTools,
        resultMode: "json",
        // The engine's call ids are the call_ids the client sees: a re-run's live calls get fresh ones.
        newCallId,
        ...(journal ? { replay: { calls: journal } } : {}),
        ...(this.executionLimits ? { limits: this.executionLimits } : {}),
      };
      const handle = this.engine.execute(request);
      const resumed = journal ? { reported: [], answered: journal.map((call) => call.callId ?? "") } : undefined;
      run = new CodeRun(handle, spec.callId, "program", resumed);
      const ended = () => {
        release?.();
        // Released, not closed: a program's container is idle once its one execution ended, and its sandbox
        // then goes back to the pool when every run in it ended clean (a JavaScript-only sandbox needs no
        // reset, sandbox-reuse.ts) instead of being killed, which cost every program a new sandbox start.
        this.engine.containers.release(containerId);
        if (this.#live.get(key(spec.owner, spec.callId))?.run === run) this.#live.delete(key(spec.owner, spec.callId));
      };
      void handle.result.then(ended, ended);
    } catch (error) {
      release?.();
      this.engine.containers.end(containerId, "closed");
      throw error;
    }
    const program: LiveProgram = { spec, run };
    this.#live.set(key(spec.owner, spec.callId), program);
    if (journal) await this.#replayed(program, signal);
    return program;
  }

  /** Waits until a re-run is back at its pause (or ended); one that diverged from the items is the client's 400. */
  async #replayed(program: LiveProgram, signal: AbortSignal): Promise<void> {
    await program.run.ready(signal);
    if (!program.run.finished) return;
    const result = await program.run.handle.result;
    if (result.error?.code !== ErrorCode.ReplayDiverged) return;
    throw new PtcError(
      ErrorCode.ReplayDiverged,
      `The program ${program.spec.callId} could not be continued: re-running it made other tool calls than the function_call items of the input record (${result.error.message}). Send back the program's items as ptc returned them.`,
    );
  }

  cancel(program: LiveProgram, reason: string): void {
    program.run.cancel(reason);
    if (this.#live.get(key(program.spec.owner, program.spec.callId)) === program) {
      this.#live.delete(key(program.spec.owner, program.spec.callId));
    }
  }

  /** Cancels every program (server shutdown). */
  close(): void {
    for (const program of [...this.#live.values()]) this.cancel(program, "server closed");
  }
}

function key(owner: string, callId: string): string {
  return `${owner}\u0000${callId}`;
}
