import { ErrorCode, type LimitCode, PtcError } from "../protocol/errors.js";
import type { ToolCallRecord, ToolCallRequest, ToolOutcome } from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";
import { encodeToolError, MAX_TOOL_NAME_CHARS } from "../sandbox/pyodide/bridge.js";
import { CallDeadlines } from "./call-deadlines.js";
import { CallJournal } from "./call-journal.js";
import { currentExecutionDepth, runAtExecutionDepth } from "./execution-depth.js";
import { checkGuestCall } from "./guest-call-check.js";
import { answeredAtOnce, handlerContext, newLiveCall, refusedCallRecord } from "./live-call.js";
import { callIdFactory } from "./random-id.js";
import { ToolCallBudget } from "./tool-call-budget.js";
import type { LiveCall, ToolCallBrokerContext, ToolCallEvent } from "./tool-call-port.js";
import { handlerFailureOutcome } from "./tool-failure.js";
import { type EncodedOutcome, encodeToolResult } from "./tool-result-encoding.js";
import { checkSubmission, type ToolResultSubmission } from "./tool-result-submission.js";

export { MAX_REFUSED_INPUT_KEPT_BYTES } from "./guest-call-check.js";
export type { ToolCallBrokerContext, ToolCallEvent, ToolCallPort } from "./tool-call-port.js";
export type { ToolResultSubmission } from "./tool-result-submission.js";

/** One event for every change in the number of outstanding calls: nothing is allocated per call for it. */
const OUTSTANDING_CHANGED: ToolCallEvent = Object.freeze({ type: "outstanding" });

/**
 * The host side of the tool bridge for one execution. Every guest request is untrusted: it is
 * size-checked, parsed, looked up among the code-callable tools and validated before anything runs.
 * Handler calls run concurrently up to a cap; calls without a handler wait for `submit`.
 */
export class ToolCallBroker {
  readonly records: ToolCallRecord[] = [];
  readonly resultTexts: string[] = [];
  #live = new Map<string, LiveCall>();
  /** The same live calls by the guest's call id: the guest names a call it gives up on by that id. */
  #byGuestCallId = new Map<number, LiveCall>();
  /** Settled calls a caller answered (no handler: only those are submitted), for `submit`'s "duplicate". */
  #settled = new Set<string>();
  /** Bytes of input the script sent and of results it received, and its calls, this execution. */
  readonly #budget: ToolCallBudget;
  #queue: LiveCall[] = [];
  #running = 0;
  #closed = false;
  /** The journal and the write-ahead FIFO: each write, and each step waiting for the writes before it. */
  readonly #journal: CallJournal;
  readonly #newCallId: () => string;
  /**
   * The nesting depth of this broker's execution. The broker is built synchronously inside
   * `engine.execute`, so the depth there is that of the handler (if any) that started this execution.
   */
  readonly #depth = currentExecutionDepth() + 1;
  /** Running handlers' timeouts, and pending calls' (without a handler): one timer each (call-deadlines.ts). */
  readonly #handlerDeadlines: CallDeadlines<LiveCall>;
  readonly #pendingDeadlines: CallDeadlines<LiveCall>;
  /** Every call's `caller`: the same for all of this execution's calls, so one frozen object, not one a call. */
  readonly #caller: ToolCallRequest["caller"];

  constructor(private readonly context: ToolCallBrokerContext) {
    const { limits } = context;
    this.#budget = new ToolCallBudget({ limits, onLimit: (code) => this.#limit(code) });
    this.#newCallId = context.newCallId ?? callIdFactory();
    this.#caller = Object.freeze({ type: "code_execution", executionId: context.executionId });
    this.#journal = new CallJournal(context.journal, context.writeAhead, context.onWriteFailed);
    const live = (call: LiveCall) => this.#live.get(call.request.id) === call;
    this.#handlerDeadlines = new CallDeadlines(limits.toolTimeoutMs, live, (call) =>
      this.#timedOut(call, limits.toolTimeoutMs),
    );
    this.#pendingDeadlines = new CallDeadlines(limits.pendingToolTimeoutMs, live, (call) =>
      this.#timedOut(call, limits.pendingToolTimeoutMs),
    );
  }

  get outstanding(): number {
    return this.#live.size;
  }

  pending(): ToolCallRequest[] {
    return [...this.#live.values()].filter((call) => !call.handler && call.durable).map((call) => call.request);
  }

  /**
   * True when calls are outstanding and every one is pending (`pending().length === outstanding`), without
   * building that list: the sandbox reports idle once per sequential call, and most calls have a handler.
   */
  allPending(): boolean {
    if (this.#live.size === 0) return false;
    for (const call of this.#live.values()) if (call.handler || !call.durable) return false;
    return true;
  }

  /** Resolves once every write so far went through the write-ahead (at once without one). */
  whenDurable(): Promise<void> {
    return this.#journal.whenDurable();
  }

  /** Never throws: whatever the guest sends, the host answers it or refuses it. */
  handleGuestCall(guestCallId: number, name: string, inputJson: string): void {
    try {
      this.#handleGuestCall(guestCallId, name, inputJson);
    } catch (error) {
      const message = `the host could not process this call: ${error instanceof Error ? error.name : "error"}`;
      this.#refuse(guestCallId, name.slice(0, MAX_TOOL_NAME_CHARS), {}, 0, ErrorCode.InvalidToolInput, message);
    }
  }

  #handleGuestCall(guestCallId: number, name: string, inputJson: string): void {
    if (this.#closed) return;
    const { limits, registry } = this.context;
    const check = checkGuestCall(name, inputJson, limits, registry, this.#budget, MAX_TOOL_NAME_CHARS);
    if (!check.ok) {
      const { kept, inputBytes, code, message, journaledInput } = check;
      this.#refuse(guestCallId, check.name, kept, inputBytes, code, message, journaledInput);
      return;
    }
    const { inputBytes } = check;
    const tool = registry.get(name);
    const request: ToolCallRequest = {
      id: this.context.resumedCallIds?.shift() ?? this.#newCallId(),
      name,
      input: check.input,
      caller: this.#caller,
    };
    const call = newLiveCall(request, guestCallId, tool?.definition, inputBytes, !this.#journal.durable);
    this.records.push(call.record);
    this.#live.set(request.id, call);
    this.#byGuestCallId.set(guestCallId, call);
    this.#journal.call(guestCallId, request.id, name, request.input as JsonValue);
    this.context.emit(OUTSTANDING_CHANGED);
    // Without a write-ahead the step runs now: no closure per call for a queue that is not there.
    if (this.#journal.durable) this.#journal.afterWrites(() => this.#dispatch(call));
    else this.#dispatch(call);
  }

  /** Reports the call and runs its handler, or leaves it pending, once it is durable. */
  #dispatch(call: LiveCall): void {
    const { request } = call;
    const { limits } = this.context;
    // Withdrawn (the script cancelled it, the execution ended) while its write was on the way.
    if (this.#live.get(request.id) !== call) return;
    if (!call.durable) {
      call.durable = true;
      this.context.emit(OUTSTANDING_CHANGED);
    }
    const { name } = request;
    this.context.emit({
      type: "tool-call",
      call: request,
      pending: !call.handler && this.context.runnerWithoutCaller === undefined,
    });
    if (!call.handler) {
      if (this.context.runnerWithoutCaller !== undefined) {
        call.record.resolvedBy = "host";
        const message = `${name} has no handler in ${this.context.runnerWithoutCaller}`;
        this.#settle(call, { ok: false, error: { code: ErrorCode.ToolError, message } });
        return;
      }
      call.record.resolvedBy = "caller";
      this.#pendingDeadlines.add(call);
      return;
    }
    if (this.#running >= limits.maxConcurrentToolCalls) {
      this.#limit(ErrorCode.ToolConcurrencyLimit);
      this.#queue.push(call);
      return;
    }
    this.#start(call);
  }

  /**
   * The script gave up on a call (`asyncio.wait_for` timed out, its task was cancelled): its handler's
   * signal is aborted and its timer cleared, a pending call is withdrawn (a late result for it is an
   * unknown call), and it is recorded as cancelled. Unknown or settled ids are ignored: the guest's
   * word is only ever a request to stop work the host started for it.
   */
  cancelGuestCall(guestCallId: number): void {
    const call = this.#byGuestCallId.get(guestCallId);
    if (!call || !this.#live.has(call.request.id)) return;
    const message = "the script cancelled this call";
    this.#withdraw(call, message);
    const outcome: ToolOutcome = { ok: false, error: { code: ErrorCode.Cancelled, message } };
    const { id, name } = call.request;
    this.#journal.result(call.guestCallId, id, outcome);
    const durationMs = call.record.durationMs;
    this.#journal.afterWrites(() => this.context.emit({ type: "tool-result", callId: id, name, outcome, durationMs }));
    this.#startNext();
    this.context.emit(OUTSTANDING_CHANGED);
  }

  /**
   * Resolves a pending call. A second submission for a settled call is a no-op ("duplicate"). A submission
   * of the wrong shape throws PtcError `invalid_request` and leaves the call pending, still answerable.
   */
  submit(callId: string, submission: ToolResultSubmission): "accepted" | "duplicate" {
    // Checked first: the submission comes from the caller's code, whose types TypeScript may not have seen.
    const checked = checkSubmission(callId, submission);
    if (this.#settled.has(callId)) return "duplicate";
    const call = this.#live.get(callId);
    if (!call || call.handler || !call.durable) {
      throw new PtcError(ErrorCode.UnknownToolCall, `no pending tool call ${callId}`, { callId });
    }
    if (checked.ok) this.#settle(call, this.#encode(call.request.name, checked.value));
    else this.#settle(call, { ok: false, error: { code: checked.code, message: checked.message } });
    return "accepted";
  }

  /** Ends every unanswered call: their handlers see the abort, their timers are cleared. */
  close(reason: string): void {
    this.#closed = true;
    this.#queue = [];
    for (const call of [...this.#live.values()]) this.#withdraw(call, reason);
    this.#byGuestCallId.clear();
    this.#handlerDeadlines.close();
    this.#pendingDeadlines.close();
  }

  /** Takes a live call out: nothing of it stays armed, and its late outcome is ignored. */
  #withdraw(call: LiveCall, reason: string): void {
    this.#live.delete(call.request.id);
    this.#byGuestCallId.delete(call.guestCallId);
    this.#deadlines(call).prune();
    if (call.handler) {
      if (call.started) this.#running--;
      else this.#queue = this.#queue.filter((queued) => queued !== call);
    }
    call.record.outcome = "cancelled";
    call.record.error = { code: ErrorCode.Cancelled, message: reason };
    call.record.durationMs = performance.now() - call.startedAt;
    try {
      call.abort.abort(new PtcError(ErrorCode.Cancelled, reason));
    } catch {
      // An abort listener of the handler threw: the call is withdrawn all the same.
    }
  }

  #deadlines(call: LiveCall): CallDeadlines<LiveCall> {
    return call.handler ? this.#handlerDeadlines : this.#pendingDeadlines;
  }

  #startNext(): void {
    const next = this.#queue.shift();
    if (next && !this.#closed) this.#start(next, true);
  }

  /**
   * `queued`: it waited for a slot and starts as another settles (`#startNext`); its outcome then waits for
   * a microtask even when the handler returned at once, so that a queue settles in turn, not recursively.
   */
  #start(call: LiveCall, queued = false): void {
    const handler = call.handler;
    if (!handler) return;
    this.#running++;
    call.started = true;
    // Neither queued nor waiting for a write-ahead, it was made (newLiveCall) in this same turn: that time stands.
    if (queued || this.#journal.durable) call.startedAt = performance.now();
    this.#handlerDeadlines.add(call);
    const { executionId, containerId, limits } = this.context;
    const context = handlerContext(call, executionId, containerId, limits);
    let value: unknown;
    let threw = false;
    try {
      // Whatever the handler starts (an `engine.execute` included) runs one level deeper than this execution.
      value = runAtExecutionDepth(this.#depth, handler, call.request.input, context);
    } catch (error) {
      value = error;
      threw = true;
    }
    // A handler that answered (or threw) at once is settled at once: no promise, callbacks and microtask for
    // it. What it threw is its failure as it is, as a rejection with it would be (never unwrapped).
    if (!queued && (threw || answeredAtOnce(value))) {
      if (threw) this.#failed(call, value);
      else this.#succeeded(call, value);
      return;
    }
    // Both callbacks catch what the host's own parts throw: never an unhandled rejection, no final .catch.
    (threw ? Promise.reject(value) : Promise.resolve(value)).then(
      (result) => this.#succeeded(call, result),
      (error: unknown) => this.#failed(call, error),
    );
  }

  /** Never throws: what the host's own parts throw while settling (a journal store) is dropped here. */
  #succeeded(call: LiveCall, value: unknown): void {
    try {
      this.#settle(call, this.#encode(call.request.name, value));
    } catch {}
  }

  #failed(call: LiveCall, error: unknown): void {
    try {
      const { failure, limit, errorType } = handlerFailureOutcome(error);
      if (limit) this.#limit(limit);
      this.#settle(call, { ok: false, error: failure }, errorType);
    } catch {}
  }

  #timedOut(call: LiveCall, timeoutMs: number): void {
    this.#limit(ErrorCode.ToolTimeout);
    const message = `${call.request.name} did not return within ${timeoutMs} ms`;
    call.abort.abort(new PtcError(ErrorCode.ToolTimeout, message));
    this.#settle(call, { ok: false, error: { code: ErrorCode.ToolTimeout, message } }, "ToolTimeoutError");
  }

  /** The result as JSON within the per-result and per-execution limits, or why not. */
  #encode(name: string, value: unknown): EncodedOutcome {
    return this.#budget.admitResult(name, encodeToolResult(name, value, this.context.limits.maxToolResultBytes));
  }

  #settle(call: LiveCall, outcome: EncodedOutcome, errorType = "ToolError"): void {
    const id = call.request.id;
    // Settled or withdrawn calls are out of #live: a late outcome for one finds another entry or none.
    if (this.#live.get(id) !== call) return;
    if (!call.handler) this.#settled.add(id);
    this.#live.delete(id);
    this.#byGuestCallId.delete(call.guestCallId);
    this.#deadlines(call).prune();
    const durationMs = performance.now() - call.startedAt;
    call.record.durationMs = durationMs;
    call.record.ok = outcome.ok;
    call.record.outcome = outcome.ok ? "ok" : "error";
    const stored: ToolOutcome = outcome.ok ? { ok: true, value: outcome.value } : outcome;
    this.#journal.result(call.guestCallId, id, stored);
    if (outcome.ok) {
      const text = outcome.text ?? JSON.stringify(outcome.value);
      call.record.resultBytes = outcome.bytes ?? Buffer.byteLength(text);
      // Kept for the token count at the end. A string result is kept as the value itself, which the
      // journal holds anyway, rather than as a second copy in quotes.
      this.resultTexts.push(typeof outcome.value === "string" ? outcome.value : text);
      this.#reply(call.guestCallId, true, text);
    } else {
      call.record.error = outcome.error;
      this.#reply(call.guestCallId, false, JSON.stringify({ type: errorType, ...outcome.error }));
    }
    const event: ToolCallEvent = {
      type: "tool-result",
      callId: id,
      name: call.request.name,
      outcome: stored,
      durationMs,
    };
    if (this.#journal.durable) this.#journal.afterWrites(() => this.context.emit(event));
    else this.context.emit(event);
    if (call.handler && call.started) {
      this.#running--;
      this.#startNext();
    }
    this.context.emit(OUTSTANDING_CHANGED);
  }

  #refuse(
    guestCallId: number,
    name: string,
    input: Record<string, unknown>,
    inputBytes: number,
    code: string,
    message: string,
    /**
     * The input, when it parsed: the refusal is journaled with it, so that a replay of the script, which
     * makes this call again, finds it in the journal (the refusals before that are the child's too).
     */
    journaledInput?: JsonValue,
  ): void {
    const record = refusedCallRecord(this.#newCallId(), name, input, inputBytes, { code, message });
    this.records.push(record);
    if (journaledInput !== undefined) {
      this.#journal.call(guestCallId, record.id, name, journaledInput);
      this.#journal.result(guestCallId, record.id, { ok: false, error: { code, message } });
    }
    this.#reply(guestCallId, false, encodeToolError("ToolError", code, message));
  }

  /** Hands an outcome to the sandbox once the writes before it went through. */
  #reply(guestCallId: number, ok: boolean, payloadJson: string): void {
    if (!this.#journal.durable) this.context.port.reply(guestCallId, ok, payloadJson);
    else this.#journal.afterWrites(() => this.#closed || this.context.port.reply(guestCallId, ok, payloadJson));
  }

  #limit(code: LimitCode): void {
    this.context.emit({ type: "limit", code });
  }
}
