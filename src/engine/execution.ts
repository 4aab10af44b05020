import { ErrorCode, type LimitCode, PtcError } from "../protocol/errors.js";
import type {
  ExecutionError,
  ExecutionEvent,
  ExecutionResult,
  IsolationReport,
  JournalEntry,
  ResultMode,
  ScriptLanguage,
  ToolCallRequest,
} from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ReplayFrame } from "../sandbox/pyodide/bridge.js";
import type { SandboxRunOutcome } from "../sandbox/sandbox-process.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { ContainerLease } from "./container-manager.js";
import { EventLog } from "./event-log.js";
import { ExecutionClock } from "./execution-clock.js";
import { guestErrorToExecutionError, sandboxEndError } from "./guest-error.js";
import { Journal, type JournalStore } from "./journal.js";
import { type Cancellation, LazyAbort } from "./lazy-abort.js";
import { OutputCapture } from "./output-capture.js";
import { countTokens, TOKENIZER_NAME } from "./token-counter.js";
import { ToolCallBroker, type ToolCallEvent, type ToolResultSubmission } from "./tool-call-broker.js";
import type { WriteAhead } from "./write-ahead.js";

/** The handle `execute` returns: iterate it for events, await `result` for the outcome. */
export interface ExecutionHandle extends AsyncIterable<ExecutionEvent> {
  readonly id: string;
  /** Known once the execution has its container (immediately when one was named). */
  readonly containerId: string | undefined;
  readonly result: Promise<ExecutionResult>;
  /** Calls waiting for `submitToolResult` (tools without a handler). */
  pendingToolCalls(): ToolCallRequest[];
  /**
   * True while the script is blocked on `pendingToolCalls()` alone: the sandbox reports when it has nothing
   * left to run, so a caller can answer a whole `asyncio.gather` at once without guessing from timing.
   */
  isPaused(): boolean;
  submitToolResult(callId: string, submission: ToolResultSubmission): "accepted" | "duplicate";
  /**
   * Resolves once every call and outcome so far is durable (`ExecuteRequest.writeAhead`): a server answers
   * a submitted result after this. At once without a write-ahead; never rejects (a failed write stops the
   * execution instead).
   */
  whenDurable(): Promise<void>;
  /**
   * Once `result` is out: whether the container's sandbox, and so its Python state, outlived the execution
   * (false after a cancel, a timeout or a crash: the next execution starts clean). Undefined before.
   */
  readonly stateKept: boolean | undefined;
  cancel(reason?: string): void;
  journal(): readonly JournalEntry[];
}

export interface ExecutionParams {
  id: string;
  code: string;
  language: ScriptLanguage;
  containerId: string | undefined;
  registry: ToolRegistry;
  limits: ExecutionLimits;
  resultMode: ResultMode;
  isolation: IsolationReport;
  lease: (cancel: Cancellation) => Promise<ContainerLease>;
  journalStore?: JournalStore;
  runnerWithoutCaller?: string;
  /** Re-running a journaled execution: the child answers its calls (replay.ts). */
  replay?: ReplayFrame;
  /** Ids the calls pending at the pause take again when they are made live (`ToolCallBrokerContext`). */
  resumedCallIds?: string[];
  writeAhead?: WriteAhead;
  newCallId?: () => string;
}

interface Stop {
  code: ErrorCode;
  type: string;
  message: string;
  status: ExecutionResult["status"];
}

export class Execution implements ExecutionHandle {
  readonly id: string;
  readonly result: Promise<ExecutionResult>;
  #containerId: string | undefined;
  #events = new EventLog<ExecutionEvent>();
  #journal: Journal;
  #broker: ToolCallBroker;
  #abort = new LazyAbort();
  #stop: Stop | null = null;
  #lease: ContainerLease | null = null;
  #released = false;
  #limitsHit = new Set<LimitCode>();
  #output: OutputCapture;
  #clock: ExecutionClock;
  /** The sandbox reported the script idle and nothing crossed the bridge since. */
  #idle = false;
  #pauseReported = false;
  #stateKept: boolean | undefined;

  constructor(private readonly params: ExecutionParams) {
    this.id = params.id;
    this.#containerId = params.containerId;
    this.#journal = new Journal(params.id, params.journalStore);
    this.#output = new OutputCapture(
      params.limits.maxOutputBytes,
      (stream, text) => this.#events.push({ type: stream, text }),
      () => this.#limitsHit.add(ErrorCode.OutputLimit),
    );
    this.#clock = new ExecutionClock(params.limits.activeTimeoutMs, (message) =>
      this.#halt({ code: ErrorCode.ActiveTimeout, type: "TimeoutError", message, status: "failed" }),
    );
    this.#broker = new ToolCallBroker({
      executionId: params.id,
      ...(params.runnerWithoutCaller !== undefined ? { runnerWithoutCaller: params.runnerWithoutCaller } : {}),
      containerId: params.containerId ?? "",
      registry: params.registry,
      limits: params.limits,
      journal: this.#journal,
      ...(params.resumedCallIds ? { resumedCallIds: [...params.resumedCallIds] } : {}),
      ...(params.writeAhead ? { writeAhead: params.writeAhead } : {}),
      ...(params.newCallId ? { newCallId: params.newCallId } : {}),
      onWriteFailed: (error) => {
        const code = PtcError.isInstance(error) ? error.code : ErrorCode.StoreUnavailable;
        const message = error instanceof Error ? error.message : String(error);
        this.#halt({ code, type: "StoreError", message, status: "failed" });
      },
      port: {
        reply: (guestCallId, ok, payload) => {
          this.#setRunning();
          this.#lease?.sandbox.sendToolResult(guestCallId, ok, payload);
        },
      },
      emit: (event) => this.#onToolCallEvent(event),
    });
    this.result = this.#run();
  }

  get containerId(): string | undefined {
    return this.#containerId;
  }

  [Symbol.asyncIterator](): AsyncIterator<ExecutionEvent> {
    return this.#events.iterate();
  }

  pendingToolCalls(): ToolCallRequest[] {
    return this.#broker.pending();
  }

  isPaused(): boolean {
    return this.#idle && this.#stop === null && this.#broker.allPending();
  }

  #onToolCallEvent(event: ToolCallEvent): void {
    switch (event.type) {
      case "outstanding":
        this.#clock.outstandingChanged(this.#broker.outstanding, !this.#stop && !!this.#lease);
        // A call that became durable while the sandbox was idle may complete a pause.
        if (this.#idle) this.#onIdle();
        return;
      case "limit":
        this.#limitsHit.add(event.code);
        return;
      default:
        this.#events.push(event);
    }
  }

  #setRunning(): void {
    this.#idle = false;
    this.#pauseReported = false;
  }

  #onIdle(): void {
    this.#idle = true;
    if (this.#pauseReported || !this.isPaused()) return;
    this.#pauseReported = true;
    this.#events.push({ type: "execution-paused", pendingCallIds: this.#broker.pending().map((call) => call.id) });
  }

  submitToolResult(callId: string, submission: ToolResultSubmission): "accepted" | "duplicate" {
    return this.#broker.submit(callId, submission);
  }

  get stateKept(): boolean | undefined {
    return this.#stateKept;
  }

  whenDurable(): Promise<void> {
    return this.#broker.whenDurable();
  }

  cancel(reason = "execution cancelled"): void {
    this.#halt({ code: ErrorCode.Cancelled, type: "CancelledError", message: reason, status: "cancelled" });
  }

  journal(): readonly JournalEntry[] {
    return this.#journal.entries();
  }

  async #run(): Promise<ExecutionResult> {
    const { limits } = this.params;
    const startedAt = performance.now();
    const wallTimer = setTimeout(
      () =>
        this.#halt({
          code: ErrorCode.WallTimeout,
          type: "TimeoutError",
          message: `execution exceeded its wall-clock limit of ${limits.wallTimeoutMs} ms`,
          status: "failed",
        }),
      limits.wallTimeoutMs,
    );
    let outcome: SandboxRunOutcome | null = null;
    let sandboxWaitMs = 0;
    try {
      this.#lease = await this.params.lease(this.#abort);
      this.#containerId = this.#lease.containerId;
      sandboxWaitMs = performance.now() - startedAt;
      this.#journal.appendStart(
        this.params.code,
        this.params.language,
        this.#lease.containerId,
        this.params.registry.codeTools().map((tool) => tool.name),
      );
      this.#events.push({ type: "execution-start", executionId: this.id, containerId: this.#lease.containerId });
      if (!this.#stop) {
        const sandbox = this.#lease.sandbox;
        const running = sandbox.run(
          {
            code: this.params.code,
            language: this.params.language,
            tools: [
              ...this.params.registry.codeTools().map(({ name, pythonName }) => ({ name, pythonName })),
              // Named so that the script's call raises tool_not_allowed, not NameError; the host refuses them too.
              ...this.params.registry
                .notCallableFromCode()
                .map(({ name, pythonName, callers }) => ({ name, pythonName, allowedCallers: [...callers] })),
            ],
            resultMode: this.params.resultMode,
            maxOutputBytes: limits.maxOutputBytes,
            memoryBytes: limits.memoryBytes,
            maxToolInputBytes: limits.maxToolInputBytes,
            maxToolCalls: limits.maxToolCalls,
            ...(this.#lease.seed !== undefined ? { seed: this.#lease.seed } : {}),
            ...(this.#lease.firstRun ? { restartCallIds: true } : {}),
            ...(this.params.replay ? { replay: this.params.replay } : {}),
          },
          {
            onToolCall: (guestCallId, name, inputJson) => {
              this.#setRunning();
              this.#broker.handleGuestCall(guestCallId, name, inputJson);
            },
            onOutput: (stream, text) => {
              this.#setRunning();
              this.#output.write(stream, text);
            },
            onTruncated: (stream, dropped) => this.#output.markTruncated(stream, dropped),
            onIdle: () => this.#onIdle(),
            onBusy: () => this.#setRunning(),
            onToolCancel: (guestCallId) => this.#broker.cancelGuestCall(guestCallId),
          },
        );
        // Read once the script is on its way (`run` writes it at once): the sandbox starts on it while the host
        // reads /proc (~35 µs), not after. CPU time comes in 10 ms ticks; what the child used meanwhile is
        // well under one, so this start reading misses none but the rare tick it straddles.
        this.#clock.start(() => sandbox.cpuTimeMs());
        // A stop that came in while the script was being handed over still applies.
        if (this.#stop) sandbox.kill();
        outcome = await running;
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#stop ??= { code: ErrorCode.SandboxUnavailable, type: "SandboxError", message, status: "failed" };
    } finally {
      clearTimeout(wallTimer);
      this.#clock.end();
    }
    this.#broker.close(this.#stop?.message ?? "execution finished");
    const error = this.#resolveError(outcome);
    this.#output.appendMarkers();
    const discard = this.#stop !== null || outcome?.kind !== "done";
    // Clean: completed or a guest exception, no limit reached (output, calls, memory…); only such a
    // one-off execution's sandbox is reset and reused.
    this.#lease?.release({ discard, clean: !discard && this.#limitsHit.size === 0 });
    // From here the sandbox is another execution's (recycled) or its container's: a late stop must not kill it.
    this.#released = true;
    this.#stateKept = this.#lease !== null && !discard;
    const result = await this.#buildResult(error, startedAt, sandboxWaitMs);
    this.#journal.appendEnd(result.status, result.error);
    this.#events.push({ type: "done", result });
    this.#events.close();
    return result;
  }

  #halt(stop: Stop): void {
    if (this.#stop) return;
    this.#stop = stop;
    if (stop.code === ErrorCode.WallTimeout || stop.code === ErrorCode.ActiveTimeout) this.#limitsHit.add(stop.code);
    this.#abort.abort();
    this.#broker.close(stop.message);
    if (!this.#released) this.#lease?.sandbox.kill();
  }

  #resolveError(outcome: SandboxRunOutcome | null): ExecutionError | null {
    if (this.#stop) return { code: this.#stop.code, type: this.#stop.type, message: this.#stop.message };
    if (!outcome) return { code: ErrorCode.SandboxUnavailable, type: "SandboxError", message: "no sandbox" };
    if (outcome.kind === "exited") {
      const error = sandboxEndError(outcome);
      if (error.code === ErrorCode.MemoryLimit) this.#limitsHit.add(ErrorCode.MemoryLimit);
      return error;
    }
    for (const stream of ["stdout", "stderr"] as const) {
      if (outcome.dropped[stream] > 0) this.#output.markTruncated(stream, outcome.dropped[stream]);
    }
    if (outcome.memoryLimitHit) this.#limitsHit.add(ErrorCode.MemoryLimit);
    if (!outcome.error) return null;
    // Only the child of a replay reports a divergence; a script raising this code itself gets none of it.
    if (this.params.replay && outcome.error.code === ErrorCode.ReplayDiverged) {
      return { code: ErrorCode.ReplayDiverged, type: outcome.error.type, message: outcome.error.message };
    }
    const { memoryBytes } = this.params.limits;
    return guestErrorToExecutionError(
      outcome.error,
      outcome.memoryLimitHit,
      this.#limitsHit,
      memoryBytes,
      this.params.language,
    );
  }

  async #buildResult(error: ExecutionError | null, startedAt: number, sandboxWaitMs: number): Promise<ExecutionResult> {
    const stdout = this.#output.text("stdout");
    const stderr = this.#output.text("stderr");
    const toolTexts = this.#broker.resultTexts;
    const [toolTokens, outputTokens] = await Promise.all([countTokens(toolTexts), countTokens([stdout, stderr])]);
    const status: ExecutionResult["status"] = this.#stop?.status ?? (error ? "failed" : "completed");
    const exitCode = error?.type === "SystemExit" ? Number(error.message) || 1 : 1;
    return {
      executionId: this.id,
      containerId: this.#containerId ?? "",
      status,
      stdout,
      stderr,
      returnCode: error ? exitCode : 0,
      error,
      toolCalls: this.#broker.records,
      timings: {
        totalMs: performance.now() - startedAt,
        sandboxWaitMs,
        activeMs: this.#clock.activeMs,
        toolWaitMs: this.#clock.toolWaitMs,
      },
      isolation: this.params.isolation,
      truncated: { ...this.#output.truncated },
      limitsHit: [...this.#limitsHit],
      contextSavings: {
        toolResultBytes: this.#broker.records.reduce((sum, record) => sum + record.resultBytes, 0),
        toolResultTokens: toolTokens.tokens,
        outputBytes: Buffer.byteLength(stdout) + Buffer.byteLength(stderr),
        outputTokens: outputTokens.tokens,
        tokenizer: toolTokens.approximate ? `${TOKENIZER_NAME} (sampled)` : TOKENIZER_NAME,
      },
      containerReset: this.#lease?.reset ?? false,
    };
  }
}
