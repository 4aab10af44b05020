import { randomBytes } from "node:crypto";
import { ErrorCode, type LimitCode, PtcError } from "../protocol/errors.js";
import type { ToolCallRecord, ToolCallRequest, ToolOutcome } from "../protocol/execution.js";
import { isJsonObject, type JsonValue } from "../protocol/json-schema.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ToolHandler } from "../protocol/tool.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { currentExecutionDepth, runAtExecutionDepth } from "./execution-depth.js";
import type { Journal } from "./journal.js";
import { handlerFailure, safeToolMessage, unserializableResult } from "./tool-failure.js";

/** What a caller submits for a pending call. */
export type ToolResultSubmission = { value: unknown } | { error: string | { message: string; code?: string } };

export interface ToolCallBrokerContext {
  executionId: string;
  /** Set when nobody answers pending calls: a call to a tool without a handler fails at once, naming this. */
  noCaller?: string;
  containerId: string;
  registry: ToolRegistry;
  limits: ExecutionLimits;
  journal: Journal;
  /** Sends the outcome back into the sandbox. */
  reply(guestCallId: number, ok: boolean, payloadJson: string): void;
  onToolCall(call: ToolCallRequest, pending: boolean): void;
  onToolResult(callId: string, name: string, outcome: ToolOutcome, durationMs: number): void;
  /** Called whenever the number of unanswered calls changes (for time-excluding-tool-waits). */
  onOutstandingChange(outstanding: number): void;
  onLimit(code: LimitCode): void;
}

interface LiveCall {
  request: ToolCallRequest;
  guestCallId: number;
  handler: ToolHandler | undefined;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  startedAt: number;
  record: ToolCallRecord;
}

/**
 * Call ids: a random prefix per execution plus a counter. Unique across executions, and cheap on
 * the per-call hot path (drawing fresh random bytes per call cost ~15 µs here).
 */
export function callIdFactory(): () => string {
  const prefix = `call_${randomBytes(9).toString("base64url")}`;
  let counter = 0;
  return () => `${prefix}${(counter++).toString(36).padStart(4, "0")}`;
}

/**
 * The host side of the tool bridge for one execution. Every guest request is untrusted: it is
 * size-checked, parsed, looked up among the code-callable tools and validated before anything runs.
 * Handler calls run concurrently up to a cap; calls without a handler wait for `submit`.
 */
export class ToolCallBroker {
  readonly records: ToolCallRecord[] = [];
  readonly resultTexts: string[] = [];
  #live = new Map<string, LiveCall>();
  #settled = new Set<string>();
  #queue: LiveCall[] = [];
  #running = 0;
  #calls = 0;
  #closed = false;
  readonly #newCallId = callIdFactory();
  /**
   * The nesting depth of this broker's execution. The broker is built synchronously inside
   * `engine.execute`, so the depth there is that of the handler (if any) that started this execution.
   */
  readonly #depth = currentExecutionDepth() + 1;

  constructor(private readonly context: ToolCallBrokerContext) {}

  get outstanding(): number {
    return this.#live.size;
  }

  pending(): ToolCallRequest[] {
    return [...this.#live.values()].filter((call) => !call.handler).map((call) => call.request);
  }

  /** Never throws: whatever the guest sends, the host answers it or refuses it. */
  handleGuestCall(guestCallId: number, name: string, inputJson: string): void {
    try {
      this.#handleGuestCall(guestCallId, name, inputJson);
    } catch (error) {
      const message = `the host could not process this call: ${error instanceof Error ? error.name : "error"}`;
      this.#refuse(guestCallId, name, {}, ErrorCode.InvalidToolInput, message);
    }
  }

  #handleGuestCall(guestCallId: number, name: string, inputJson: string): void {
    const { limits, registry } = this.context;
    if (this.#closed) return;
    // Bytes, not UTF-16 units: a raw bridge call can send non-ASCII text (json.dumps never does).
    if (
      inputJson.length > limits.maxToolInputBytes ||
      (inputJson.length * 3 > limits.maxToolInputBytes && Buffer.byteLength(inputJson) > limits.maxToolInputBytes)
    ) {
      this.#refuse(
        guestCallId,
        name,
        {},
        ErrorCode.ToolInputTooLarge,
        `input of ${name} exceeds ${limits.maxToolInputBytes} bytes`,
      );
      return;
    }
    if (++this.#calls > limits.maxToolCalls) {
      this.context.onLimit(ErrorCode.ToolCallLimit);
      this.#refuse(guestCallId, name, {}, ErrorCode.ToolCallLimit, `tool call limit of ${limits.maxToolCalls} reached`);
      return;
    }
    let input: unknown;
    try {
      input = JSON.parse(inputJson);
    } catch {
      this.#refuse(guestCallId, name, {}, ErrorCode.InvalidToolInput, `input of ${name} is not valid JSON`);
      return;
    }
    const check = registry.checkCodeCall(name, input, inputJson);
    if (!check.ok) {
      const shown = isJsonObject(input) && check.unrecordable !== true ? input : {};
      this.#refuse(guestCallId, name, shown, check.code, check.message);
      return;
    }
    const tool = registry.get(name);
    const request: ToolCallRequest = {
      id: this.#newCallId(),
      name,
      input: check.input,
      caller: { type: "code_execution", executionId: this.context.executionId },
    };
    const call: LiveCall = {
      request,
      guestCallId,
      // Bound: a handler written as a method may use `this` (its definition).
      handler: tool?.definition.handler?.bind(tool.definition) as ToolHandler | undefined,
      controller: new AbortController(),
      timer: undefined,
      startedAt: performance.now(),
      record: {
        id: request.id,
        name,
        input: request.input,
        ok: false,
        resolvedBy: "handler",
        durationMs: 0,
        resultBytes: 0,
      },
    };
    this.records.push(call.record);
    this.#live.set(request.id, call);
    this.context.journal.append({
      type: "tool-call",
      callId: request.id,
      guestSeq: guestCallId,
      name,
      input: request.input as JsonValue,
    });
    this.context.onOutstandingChange(this.#live.size);
    this.context.onToolCall(request, !call.handler && this.context.noCaller === undefined);
    if (!call.handler) {
      if (this.context.noCaller !== undefined) {
        call.record.resolvedBy = "host";
        const message = `${name} has no handler in ${this.context.noCaller}`;
        this.#settle(call, { ok: false, error: { code: ErrorCode.ToolError, message } });
        return;
      }
      call.record.resolvedBy = "caller";
      this.#arm(call, limits.pendingToolTimeoutMs);
      return;
    }
    if (this.#running >= limits.maxConcurrentToolCalls) {
      this.context.onLimit(ErrorCode.ToolConcurrencyLimit);
      this.#queue.push(call);
      return;
    }
    this.#start(call);
  }

  /** Resolves a pending call. A second submission for a settled call is a no-op ("duplicate"). */
  submit(callId: string, submission: ToolResultSubmission): "accepted" | "duplicate" {
    if (this.#settled.has(callId)) return "duplicate";
    const call = this.#live.get(callId);
    if (!call || call.handler) {
      throw new PtcError(ErrorCode.UnknownToolCall, `no pending tool call ${callId}`, { callId });
    }
    if ("error" in submission) {
      const failure =
        typeof submission.error === "string"
          ? { code: ErrorCode.ToolError, message: safeToolMessage(submission.error) }
          : {
              code: submission.error.code ?? ErrorCode.ToolError,
              message: safeToolMessage(String(submission.error.message)),
            };
      this.#settle(call, { ok: false, error: failure });
    } else {
      this.#settle(call, this.#encodeValue(submission.value));
    }
    return "accepted";
  }

  /** Ends every unanswered call: their handlers see the abort. */
  close(reason: string): void {
    this.#closed = true;
    this.#queue = [];
    for (const call of this.#live.values()) {
      clearTimeout(call.timer);
      call.controller.abort(new PtcError(ErrorCode.Cancelled, reason));
      call.record.error = { code: ErrorCode.Cancelled, message: reason };
      call.record.durationMs = performance.now() - call.startedAt;
    }
    this.#live.clear();
  }

  #start(call: LiveCall): void {
    const handler = call.handler;
    if (!handler) return;
    this.#running++;
    call.startedAt = performance.now();
    this.#arm(call, this.context.limits.toolTimeoutMs);
    const context = {
      callId: call.request.id,
      executionId: this.context.executionId,
      containerId: this.context.containerId,
      caller: "code_execution" as const,
      signal: call.controller.signal,
      deadline: Date.now() + this.context.limits.toolTimeoutMs,
    };
    let result: Promise<unknown>;
    try {
      // Whatever the handler starts (an `engine.execute` included) runs one level deeper than this execution.
      result = Promise.resolve(runAtExecutionDepth(this.#depth, () => handler(call.request.input, context)));
    } catch (error) {
      result = Promise.reject(error);
    }
    // Both callbacks map anything the handler does to an outcome. The final catch is for the host's own
    // parts (a journal store that throws): they must not turn into an unhandled rejection.
    result
      .then(
        (value) => this.#settle(call, this.#encodeValue(value)),
        (error: unknown) => this.#settle(call, { ok: false, error: handlerFailure(error) }),
      )
      .catch(() => undefined);
  }

  #arm(call: LiveCall, timeoutMs: number): void {
    call.timer = setTimeout(() => {
      this.context.onLimit(ErrorCode.ToolTimeout);
      const message = `${call.request.name} did not return within ${timeoutMs} ms`;
      call.controller.abort(new PtcError(ErrorCode.ToolTimeout, message));
      this.#settle(call, { ok: false, error: { code: ErrorCode.ToolTimeout, message } }, "ToolTimeoutError");
    }, timeoutMs);
  }

  #encodeValue(value: unknown): ToolOutcome & { text?: string } {
    try {
      // Serialised once: the text goes to the sandbox; the journal keeps the value as returned.
      const normalized = value === undefined ? null : value;
      const text = JSON.stringify(normalized);
      if (text === undefined) throw new TypeError(`a ${typeof value} is not JSON`);
      return { ok: true, value: normalized as JsonValue, text };
    } catch (error) {
      // A cycle, a BigInt, a toJSON that throws, nesting that overflows the stack: a ToolError, never a crash.
      return { ok: false, error: { code: ErrorCode.ToolError, message: unserializableResult(error, value) } };
    }
  }

  #settle(call: LiveCall, outcome: ToolOutcome & { text?: string }, errorType = "ToolError"): void {
    const id = call.request.id;
    if (this.#settled.has(id) || !this.#live.has(id)) return;
    this.#settled.add(id);
    this.#live.delete(id);
    clearTimeout(call.timer);
    const durationMs = performance.now() - call.startedAt;
    call.record.durationMs = durationMs;
    call.record.ok = outcome.ok;
    if (outcome.ok) {
      const text = outcome.text ?? JSON.stringify(outcome.value);
      call.record.resultBytes = Buffer.byteLength(text);
      this.resultTexts.push(text);
      this.context.reply(call.guestCallId, true, text);
    } else {
      call.record.error = outcome.error;
      this.context.reply(call.guestCallId, false, JSON.stringify({ type: errorType, ...outcome.error }));
    }
    const stored: ToolOutcome = outcome.ok ? { ok: true, value: outcome.value } : outcome;
    this.context.journal.append({ type: "tool-result", callId: id, outcome: stored });
    this.context.onToolResult(id, call.request.name, stored, durationMs);
    if (call.handler) {
      this.#running--;
      const next = this.#queue.shift();
      if (next && !this.#closed) this.#start(next);
    }
    this.context.onOutstandingChange(this.#live.size);
  }

  #refuse(guestCallId: number, name: string, input: Record<string, unknown>, code: string, message: string): void {
    const record: ToolCallRecord = {
      id: this.#newCallId(),
      name,
      input,
      ok: false,
      resolvedBy: "host",
      error: { code, message },
      durationMs: 0,
      resultBytes: 0,
    };
    this.records.push(record);
    this.context.reply(guestCallId, false, JSON.stringify({ type: "ToolError", code, message }));
  }
}
