import type { ExecutionHandle } from "../engine/execution.js";
import type { ToolResultSubmission } from "../engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ExecutionResult, ToolCallRequest } from "../protocol/execution.js";

function invalidRequest(message: string): PtcError {
  return new PtcError(ErrorCode.InvalidRequest, message);
}

/** A call the script is waiting on, as reported to the client. */
export interface ReportedCall {
  toolUseId: string;
  call: ToolCallRequest;
}

export type RunOutcome = { kind: "paused"; calls: ReportedCall[] } | { kind: "done"; result: ExecutionResult };

/**
 * One script whose calls a client answers (`/v1/messages`' `code_execution`, a `/v1/responses` program):
 * follows the execution's events and reports when the script is paused on the client (the engine's
 * `isPaused()`: the sandbox has nothing left to run but calls only the client can answer, so every call of
 * an `asyncio.gather` or a `Promise.all` is reported together).
 */
export class CodeRun<Caller extends string = string> {
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
    readonly callerType: Caller,
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
  checkAnswers(answers: readonly { toolUseId: string }[]): void {
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
  resend(answers: readonly { toolUseId: string }[]): boolean {
    if (answers.length === 0 || !answers.every((answer) => this.#answeredBefore.has(answer.toolUseId))) return false;
    for (const call of this.handle.pendingToolCalls()) this.#reported.delete(call.id);
    return true;
  }

  /** Hands the client's answer to the script (a string, or an error); see `submitResult`. */
  submit(answer: { toolUseId: string; text: string; isError: boolean }): void {
    this.submitResult(answer.toolUseId, answer.isError ? { error: answer.text } : { value: answer.text });
  }

  /** Hands the client's result to the script; a call that already timed out in the script is ignored. */
  submitResult(toolUseId: string, submission: ToolResultSubmission): void {
    this.checkAnswers([{ toolUseId }]);
    if (this.#answeredBefore.has(toolUseId)) return;
    this.#answered.add(toolUseId);
    try {
      this.handle.submitToolResult(toolUseId, submission);
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
