import { ErrorCode, type LimitCode } from "../protocol/errors.js";
import type {
  ExecutionError,
  ExecutionEvent,
  ExecutionResult,
  IsolationReport,
  JournalEntry,
  ResultMode,
  ToolCallRequest,
} from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { GuestError, SandboxRunOutcome } from "../sandbox/sandbox-process.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { ContainerLease } from "./container-manager.js";
import { EventLog } from "./event-log.js";
import { Journal, type JournalStore } from "./journal.js";
import { countTokens, TOKENIZER_NAME } from "./token-counter.js";
import { ToolCallBroker, type ToolResultSubmission } from "./tool-call-broker.js";

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
  cancel(reason?: string): void;
  journal(): readonly JournalEntry[];
}

export interface ExecutionParams {
  id: string;
  code: string;
  containerId: string | undefined;
  registry: ToolRegistry;
  limits: ExecutionLimits;
  resultMode: ResultMode;
  isolation: IsolationReport;
  lease: (signal: AbortSignal) => Promise<ContainerLease>;
  journalStore?: JournalStore;
  noCaller?: string;
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
  #abort = new AbortController();
  #stop: Stop | null = null;
  #lease: ContainerLease | null = null;
  #limitsHit = new Set<LimitCode>();
  #output = { stdout: [] as string[], stderr: [] as string[] };
  #outputBytes = { stdout: 0, stderr: 0 };
  #truncated = { stdout: false, stderr: false };
  /** Bytes known to be dropped per stream (at least): the marker appended at the end names them. */
  #dropped = { stdout: 0, stderr: 0 };
  #activeMs = 0;
  #activeSince: number | null = null;
  #activeTimer: NodeJS.Timeout | undefined;
  /** The sandbox's CPU time when the script started, where the host can read it (Linux). */
  #cpuAtStart: number | undefined;
  #cpuUsed: number | undefined;
  #toolWaitMs = 0;
  #toolWaitSince: number | null = null;
  /** The sandbox reported the script idle and nothing crossed the bridge since. */
  #idle = false;
  #pauseReported = false;
  /** The run is over: no clock starts again. */
  #ended = false;

  constructor(private readonly params: ExecutionParams) {
    this.id = params.id;
    this.#containerId = params.containerId;
    this.#journal = new Journal(params.id, params.journalStore);
    this.#broker = new ToolCallBroker({
      executionId: params.id,
      ...(params.noCaller !== undefined ? { noCaller: params.noCaller } : {}),
      containerId: params.containerId ?? "",
      registry: params.registry,
      limits: params.limits,
      journal: this.#journal,
      reply: (guestCallId, ok, payload) => {
        this.#setRunning();
        this.#lease?.sandbox.sendToolResult(guestCallId, ok, payload);
      },
      onToolCall: (call, pending) => this.#events.push({ type: "tool-call", call, pending }),
      onToolResult: (callId, name, outcome, durationMs) =>
        this.#events.push({ type: "tool-result", callId, name, outcome, durationMs }),
      onOutstandingChange: (outstanding) => this.#onOutstandingChange(outstanding),
      onLimit: (code) => this.#limitsHit.add(code),
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
    if (!this.#idle || this.#stop !== null) return false;
    const outstanding = this.#broker.outstanding;
    return outstanding > 0 && this.#broker.pending().length === outstanding;
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
      this.#lease = await this.params.lease(this.#abort.signal);
      this.#containerId = this.#lease.containerId;
      sandboxWaitMs = performance.now() - startedAt;
      this.#journal.append({
        type: "execution-start",
        code: this.params.code,
        containerId: this.#lease.containerId,
        toolNames: this.params.registry.codeTools().map((tool) => tool.name),
      });
      this.#events.push({ type: "execution-start", executionId: this.id, containerId: this.#lease.containerId });
      if (!this.#stop) {
        const sandbox = this.#lease.sandbox;
        this.#cpuAtStart = sandbox.cpuTimeMs();
        this.#startActiveClock();
        const running = sandbox.run(
          {
            code: this.params.code,
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
          },
          {
            onToolCall: (guestCallId, name, inputJson) => {
              this.#setRunning();
              this.#broker.handleGuestCall(guestCallId, name, inputJson);
            },
            onOutput: (stream, text) => {
              this.#setRunning();
              this.#onOutput(stream, text);
            },
            onTruncated: (stream, dropped) => this.#markTruncated(stream, dropped),
            onIdle: () => this.#onIdle(),
            onBusy: () => this.#setRunning(),
            onToolCancel: (guestCallId) => this.#broker.cancelGuestCall(guestCallId),
          },
        );
        // A stop that came in while the script was being handed over still applies.
        if (this.#stop) sandbox.kill();
        outcome = await running;
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#stop ??= { code: ErrorCode.SandboxUnavailable, type: "SandboxError", message, status: "failed" };
    } finally {
      clearTimeout(wallTimer);
      // Tool waits end first: ending them would otherwise start the active clock again (and its timer
      // would keep a finished execution on the event loop).
      this.#ended = true;
      this.#onOutstandingChange(0);
      this.#pauseActiveClock();
      clearTimeout(this.#activeTimer);
      this.#readCpu();
      if (this.#cpuUsed !== undefined) this.#activeMs = this.#cpuUsed;
    }
    this.#broker.close(this.#stop?.message ?? "execution finished");
    const error = this.#resolveError(outcome);
    this.#appendTruncationMarkers();
    const discard = this.#stop !== null || outcome?.kind !== "done";
    this.#lease?.release({ discard });
    const result = await this.#buildResult(error, startedAt, sandboxWaitMs);
    this.#journal.append({ type: "execution-end", status: result.status, error: result.error });
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
    this.#lease?.sandbox.kill();
  }

  #resolveError(outcome: SandboxRunOutcome | null): ExecutionError | null {
    if (this.#stop) return { code: this.#stop.code, type: this.#stop.type, message: this.#stop.message };
    if (!outcome) return { code: ErrorCode.SandboxUnavailable, type: "SandboxError", message: "no sandbox" };
    if (outcome.kind === "exited") {
      // Memory the WebAssembly cap does not see (ArrayBuffers, JS arrays and strings built through `js`):
      // the host killed the sandbox past its bound, or V8's heap limit ended it.
      if (outcome.memoryLimit) {
        this.#limitsHit.add(ErrorCode.MemoryLimit);
        const what =
          outcome.memoryLimit.kind === "resident"
            ? `used more than ${outcome.memoryLimit.boundBytes} bytes (its memory limit plus the runtime's own overhead) and was stopped`
            : "ran out of JavaScript heap (JS objects, arrays or strings built through `js`)";
        return {
          code: ErrorCode.MemoryLimit,
          type: "MemoryError",
          message: `the sandbox ${what}; the sandbox was restarted and the container's Python state is lost`,
        };
      }
      // Deep C-level recursion (repr or json of a 100,000-deep list, or recursion past a raised
      // sys.setrecursionlimit) overflows the JS stack under the interpreter, which Pyodide cannot survive.
      if (outcome.diagnostics.includes("RangeError: Maximum call stack size exceeded")) {
        return {
          code: ErrorCode.SandboxCrashed,
          type: "RecursionError",
          message:
            "the script overflowed the sandbox's stack (recursion or nesting too deep); the sandbox was restarted and the container's Python state is lost",
        };
      }
      return {
        code: ErrorCode.SandboxCrashed,
        type: "SandboxError",
        message: `the sandbox process ended unexpectedly (exit code ${outcome.exitCode}, signal ${outcome.signal})`,
      };
    }
    for (const stream of ["stdout", "stderr"] as const) {
      if (outcome.dropped[stream] > 0) this.#markTruncated(stream, outcome.dropped[stream]);
    }
    if (outcome.memoryLimitHit) this.#limitsHit.add(ErrorCode.MemoryLimit);
    if (!outcome.error) return null;
    const error = guestErrorToExecutionError(outcome.error, outcome.memoryLimitHit, this.#limitsHit);
    // A bare MemoryError (or any exception raised without arguments) has no message of its own.
    if (error.code === ErrorCode.MemoryLimit && error.message === "") {
      error.message = `the script reached its memory limit of ${this.params.limits.memoryBytes} bytes`;
    } else if (error.message === "") {
      error.message = error.type;
    }
    return error;
  }

  async #buildResult(error: ExecutionError | null, startedAt: number, sandboxWaitMs: number): Promise<ExecutionResult> {
    const stdout = this.#output.stdout.join("");
    const stderr = this.#output.stderr.join("");
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
        activeMs: this.#activeMs,
        toolWaitMs: this.#toolWaitMs,
      },
      isolation: this.params.isolation,
      truncated: { ...this.#truncated },
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

  #onOutput(stream: "stdout" | "stderr", text: string): void {
    if (this.#truncated[stream]) return;
    const bytes = Buffer.byteLength(text);
    const room = this.params.limits.maxOutputBytes - this.#outputBytes[stream];
    if (bytes > room) {
      // The child enforces the cap too; this is the host's own bound on untrusted output.
      const kept = Buffer.from(text).subarray(0, Math.max(0, room)).toString();
      this.#append(stream, kept);
      this.#markTruncated(stream, bytes - room);
      return;
    }
    this.#append(stream, text);
  }

  #append(stream: "stdout" | "stderr", text: string): void {
    if (text.length === 0) return;
    this.#output[stream].push(text);
    this.#outputBytes[stream] += Buffer.byteLength(text);
    this.#events.push({ type: stream, text });
  }

  /** Output past the cap is dropped from here on; the marker comes at the end, with the total known then. */
  #markTruncated(stream: "stdout" | "stderr", droppedBytes: number): void {
    this.#truncated[stream] = true;
    this.#dropped[stream] = Math.max(this.#dropped[stream], droppedBytes);
    this.#limitsHit.add(ErrorCode.OutputLimit);
  }

  #appendTruncationMarkers(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (!this.#truncated[stream]) continue;
      const marker = `\n[ptc: ${stream} truncated at ${this.params.limits.maxOutputBytes} bytes; at least ${this.#dropped[stream]} more bytes dropped]\n`;
      this.#output[stream].push(marker);
      this.#events.push({ type: stream, text: marker });
    }
  }

  #onOutstandingChange(outstanding: number): void {
    const now = performance.now();
    // Where the sandbox's CPU time is readable, it is charged whatever is outstanding: a script that
    // computes beside an unanswered call is computing, not waiting.
    const byCpu = this.#cpuAtStart !== undefined;
    if (outstanding > 0 && this.#toolWaitSince === null) {
      this.#toolWaitSince = now;
      if (!byCpu) this.#pauseActiveClock();
    } else if (outstanding === 0 && this.#toolWaitSince !== null) {
      this.#toolWaitMs += now - this.#toolWaitSince;
      this.#toolWaitSince = null;
      if (!byCpu && !this.#stop && !this.#ended && this.#lease) this.#startActiveClock();
    }
  }

  /**
   * Active time is the sandbox's CPU time where the host can read it (Linux): a script asleep
   * (time.sleep, asyncio.sleep) or waiting on tools uses none and is bounded by the wall timeout alone,
   * and one computing beside an outstanding call is charged for it. Elsewhere it is the wall time the
   * script runs with no tool call outstanding. CPU time is read only once the wall clock says the limit
   * could have been reached, then as often as the remainder requires.
   */
  #startActiveClock(): void {
    if (this.#activeSince !== null) return;
    this.#activeSince = performance.now();
    const remaining = this.params.limits.activeTimeoutMs - this.#activeMs;
    this.#activeTimer = setTimeout(() => this.#checkActiveTime(), Math.max(0, remaining));
  }

  #checkActiveTime(): void {
    const limit = this.params.limits.activeTimeoutMs;
    this.#readCpu();
    if (this.#cpuUsed !== undefined && this.#cpuUsed < limit) {
      this.#activeTimer = setTimeout(
        () => this.#checkActiveTime(),
        Math.max(MIN_CPU_RECHECK_MS, limit - this.#cpuUsed),
      );
      return;
    }
    this.#halt({
      code: ErrorCode.ActiveTimeout,
      type: "TimeoutError",
      message:
        this.#cpuUsed === undefined
          ? `script ran for more than ${limit} ms (excluding tool waits)`
          : `script used more than ${limit} ms of CPU time`,
      status: "failed",
    });
  }

  #readCpu(): void {
    const now = this.#cpuAtStart === undefined ? undefined : this.#lease?.sandbox.cpuTimeMs();
    if (now !== undefined && this.#cpuAtStart !== undefined) this.#cpuUsed = now - this.#cpuAtStart;
  }

  #pauseActiveClock(): void {
    if (this.#activeSince === null) return;
    this.#activeMs += performance.now() - this.#activeSince;
    this.#activeSince = null;
    clearTimeout(this.#activeTimer);
  }
}

/** CPU time is read in ticks of 10 ms: re-reading it sooner than this finds little new. */
const MIN_CPU_RECHECK_MS = 50;

/**
 * Codes an uncaught ToolError may give the execution: the tool boundary's. The script sets `.code` as it
 * likes (`raise ToolError('x', code='wall_timeout')`), so a limit's code counts only when the host saw
 * that limit hit, and a timeout, a crash or a cancel only ever comes from the host.
 */
const GUEST_CODES = new Set<string>([
  ErrorCode.ToolNotFound,
  ErrorCode.ToolNotAllowed,
  ErrorCode.InvalidToolInput,
  ErrorCode.ToolInputTooLarge,
  ErrorCode.ToolError,
  ErrorCode.ExecutionDepthLimit,
]);
const GUEST_LIMIT_CODES = new Set<string>([
  ErrorCode.ToolCallLimit,
  ErrorCode.ToolTimeout,
  ErrorCode.ToolResultTooLarge,
  ErrorCode.ToolResultTotalLimit,
  ErrorCode.ToolInputTotalLimit,
]);

function guestErrorToExecutionError(
  error: GuestError,
  memoryLimitHit: boolean,
  limitsHit: ReadonlySet<string>,
): ExecutionError {
  let code: ErrorCode = ErrorCode.PythonError;
  if (error.type === "MemoryError" && memoryLimitHit) code = ErrorCode.MemoryLimit;
  else if (
    error.code &&
    (GUEST_CODES.has(error.code) || (GUEST_LIMIT_CODES.has(error.code) && limitsHit.has(error.code)))
  ) {
    code = error.code as ErrorCode;
  }
  const result: ExecutionError = { code, type: error.type, message: error.message, traceback: error.traceback };
  if (typeof error.line === "number") result.line = error.line;
  return result;
}
