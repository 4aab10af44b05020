import type { ExecuteRequest } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import type { ToolResultSubmission } from "../../engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type {
  ExecutionError,
  ExecutionEvent,
  ExecutionResult,
  IsolationReport,
  ToolCallRequest,
} from "../../protocol/execution.js";

export type CallSubmission = { callId: string; submission: ToolResultSubmission };

/** What the API runs: the engine's request (its `language` absent for Python). */
export type StoredRequest = Omit<ExecuteRequest, "executionId" | "container">;

export type ExecutionStatus = "queued" | "running" | "paused" | ExecutionResult["status"];

/**
 * One execution as the server tracks it: queued (no engine handle yet), started, or finished. "Paused"
 * on the wire is the engine's `isPaused()`: the sandbox reported the script blocked on client calls alone.
 */
export class StoredExecution {
  readonly createdAt: number;
  /**
   * Resumed by replay after a restart or on another node: until it pauses again (or ends), its pending
   * calls are not known yet, and results for them wait for it (`settle`) instead of being refused.
   */
  resumed = false;
  handle: ExecutionHandle | undefined;
  result: ExecutionResult | undefined;
  finishedAt: number | undefined;
  /** Ids of every call that paused for the client, answered or not (to tell "duplicate" from "unknown"). */
  readonly callerCalls = new Set<string>();
  #waiters = new Set<() => void>();
  #retainedBytes = 0;

  constructor(
    readonly id: string,
    readonly owner: string,
    readonly containerId: string,
    readonly request: StoredRequest,
    createdAt = Date.now(),
  ) {
    this.createdAt = createdAt;
  }

  get status(): ExecutionStatus {
    if (this.result) return this.result.status;
    if (!this.handle) return "queued";
    return this.isPaused() ? "paused" : "running";
  }

  /** Blocked on the client alone: calls pending, no handler call running, nothing else left to run. */
  isPaused(): boolean {
    return this.result === undefined && (this.handle?.isPaused() ?? false);
  }

  pendingToolCalls(): ToolCallRequest[] {
    return this.result ? [] : (this.handle?.pendingToolCalls() ?? []);
  }

  attach(handle: ExecutionHandle): void {
    this.handle = handle;
    this.#changed();
  }

  observe(event: ExecutionEvent): void {
    if (event.type === "tool-call" && event.pending) this.callerCalls.add(event.call.id);
    this.#changed();
  }

  #resolveFinished: () => void = () => {};
  /** Resolves once the execution has a result (finished, failed, cancelled or refused). */
  readonly finished: Promise<void> = new Promise((resolve) => {
    this.#resolveFinished = resolve;
  });

  finish(result: ExecutionResult): void {
    if (this.result) return;
    this.result = result;
    this.#resolveFinished();
    this.finishedAt = Date.now();
    this.#retainedBytes = estimateRetainedBytes(result);
    this.#changed();
  }

  /** What keeping this finished execution costs, roughly: see `estimateRetainedBytes`. */
  retainedBytes(): number {
    return this.#retainedBytes;
  }

  /** Resolves at the next change, or after `timeoutMs`, or when `signal` aborts. */
  nextChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Returns once the execution has finished or is paused (the engine's `execution-paused` event comes
   * after every call of an `asyncio.gather`, so all are listed), or `waitMs` has passed.
   */
  async settle(waitMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = performance.now() + waitMs;
    while (!this.result && !signal?.aborted && !this.isPaused()) {
      const now = performance.now();
      if (now >= deadline) return;
      await this.nextChange(deadline - now, signal);
    }
  }

  /** Applies every result or none: an id the execution never paused on fails the whole request. */
  submit(results: readonly CallSubmission[]): Array<{ callId: string; status: string }> {
    const pending = new Set(this.pendingToolCalls().map((call) => call.id));
    for (const { callId } of results) {
      if (!this.callerCalls.has(callId) && !pending.has(callId)) {
        throw new PtcError(
          ErrorCode.UnknownToolCall,
          `execution ${this.id} has no tool call ${callId} waiting for a result`,
        );
      }
    }
    return results.map(({ callId, submission }) => {
      if (!this.handle || this.result) return { callId, status: "duplicate" };
      try {
        const status = this.handle.submitToolResult(callId, submission);
        // Known as the client's from now on, even before its pending event reaches `observe` (a resumed
        // execution's can trail its pause): sent again, it is a duplicate, not an unknown call.
        this.callerCalls.add(callId);
        return { callId, status };
      } catch (error) {
        // The call was closed without an answer (its execution is ending): nothing to apply.
        if (PtcError.is(error, ErrorCode.UnknownToolCall)) return { callId, status: "duplicate" };
        throw error;
      }
    });
  }

  #changed(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** Bytes of the per-call overhead in events and records (ids, names, flags), beyond inputs and results. */
const CALL_OVERHEAD_BYTES = 200;

/**
 * A finished execution's memory, estimated from its result without serialising anything: output is
 * held twice (event log and result), tool results once (event log), tool inputs once (the records
 * and the events share the parsed value; a refused call's input is kept only when small).
 */
export function estimateRetainedBytes(result: ExecutionResult): number {
  let bytes = 2 * (result.stdout.length + result.stderr.length);
  for (const call of result.toolCalls) {
    const keptInput = call.resolvedBy === "host" && Object.keys(call.input).length === 0 ? 0 : call.inputBytes;
    bytes += call.resultBytes + keptInput + CALL_OVERHEAD_BYTES;
  }
  return bytes;
}

/** The result of an execution that never reached the engine (cancelled while queued, refused at start). */
export function unstartedResult(
  entry: StoredExecution,
  status: ExecutionResult["status"],
  error: ExecutionError,
  isolation: IsolationReport,
): ExecutionResult {
  return {
    executionId: entry.id,
    containerId: entry.containerId,
    status,
    stdout: "",
    stderr: "",
    returnCode: 1,
    error,
    toolCalls: [],
    timings: { totalMs: Date.now() - entry.createdAt, sandboxWaitMs: 0, activeMs: 0, toolWaitMs: 0 },
    isolation,
    truncated: { stdout: false, stderr: false },
    limitsHit: [],
    contextSavings: { toolResultBytes: 0, toolResultTokens: 0, outputBytes: 0, outputTokens: 0, tokenizer: "" },
    containerReset: false,
  };
}

/**
 * Why a queued execution could not start once admitted. The container cap or the key's container quota
 * (room was checked when it was queued; meanwhile the key's containers all became busy): no sandbox for it,
 * and its code leads the message.
 */
export function startError(error: unknown): ExecutionError {
  const reason = error instanceof Error ? error.message : String(error);
  const quota =
    PtcError.is(error, ErrorCode.KeyContainerQuotaExceeded) || PtcError.is(error, ErrorCode.ContainerCapReached);
  const message = quota ? `${error.code}: ${reason}` : reason;
  const code = quota ? ErrorCode.SandboxUnavailable : PtcError.is(error) ? error.code : ErrorCode.InvalidRequest;
  return { code, type: "PtcError", message };
}

export function cancelledError(message: string): ExecutionError {
  return { code: ErrorCode.Cancelled, type: "CancelledError", message };
}
