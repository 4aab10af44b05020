import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { DEFAULT_MAX_TOOL_INPUT_BYTES } from "../protocol/limits.js";
import { MAX_TOOL_INPUT_DEPTH } from "../tools/input-guard.js";
import { holdEventLoop } from "./event-loop-hold.js";
import { checkedGuestError, type GuestError } from "./guest-error-report.js";
import { jsHeapExhausted, type MemoryLimitStop, MemoryWatch, sandboxMemoryBound } from "./memory-watch.js";
import { descendants, treeCpuTimeMs } from "./process-tree.js";
import {
  type ChildFrameSink,
  decodeChildFrame,
  encodeResultFrame,
  encodeRunFrame,
  FrameFault,
  type GuestLanguage,
  MAX_ERROR_REPORT_CHARS,
  MAX_TOOL_NAME_CHARS,
  maxChildFrameChars,
  type OutputStream,
  RESET_FRAME,
  type ReplayFrame,
} from "./pyodide/bridge.js";
import { LineSplitter } from "./pyodide/line-splitter.js";
import { SANDBOX_ENV, type SandboxRuntime, sandboxCommand } from "./sandbox-runtime.js";

export type { GuestError } from "./guest-error-report.js";

export type SandboxRunOutcome =
  | {
      kind: "done";
      error: GuestError | null;
      dropped: { stdout: number; stderr: number };
      memoryLimitHit: boolean;
    }
  | {
      kind: "exited";
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      diagnostics: string;
      /** The sandbox ran out of memory: the host killed it past its bound, or V8's heap limit ended it. */
      memoryLimit?: MemoryLimitStop;
    };

export interface SandboxRunRequest {
  code: string;
  /** Default python. JavaScript and TypeScript run in a fresh QuickJS of their own: Python's state is untouched. */
  language?: GuestLanguage;
  /** Tools with `allowedCallers` (lacking `code_execution`) get a stub that raises `tool_not_allowed`. */
  tools: ReadonlyArray<{ name: string; pythonName: string; allowedCallers?: readonly string[] }>;
  resultMode: "json" | "text";
  maxOutputBytes: number;
  memoryBytes: number;
  /** Tool inputs above this are refused in the child; a longer frame kills the sandbox. */
  maxToolInputBytes?: number;
  /**
   * The child forwards one call past this (for the host to refuse and record) and refuses the rest itself.
   * Default: none.
   */
  maxToolCalls?: number;
  /** Seeds Python's `random` before the script: a container's first run in this sandbox (bridge.ts `RunFrame`). */
  seed?: number;
  /** Runs a journaled execution again, its calls answered in the child (bridge.ts `ReplayFrame`). */
  replay?: ReplayFrame;
}

export interface SandboxRunListener {
  /** `inputJson` is untrusted text from guest code; the host validates it. */
  onToolCall(callId: number, name: string, inputJson: string): void;
  onOutput(stream: OutputStream, text: string): void;
  /** The child started dropping this stream's output at the cap (`dropped`: bytes of the first refused write). */
  onTruncated?(stream: OutputStream, dropped: number): void;
  /** The script has nothing to run until an outstanding tool call returns (or a timer fires). */
  onIdle?(): void;
  /** After an idle report, a timer woke the script: it is computing again. */
  onBusy?(): void;
  /** The script gave up on this call (its task was cancelled): no result is expected any more. */
  onToolCancel?(callId: number): void;
}

let nextSandboxId = 1;

/**
 * How long `reset()` waits for the child's ready frame. A reset takes ~0.1 s of CPU; this leaves room for a
 * loaded 2-core machine starting sandboxes at the same time, and still frees a stuck child's slot soon.
 */
export const DEFAULT_RESET_TIMEOUT_MS = 10_000;

/**
 * One child process running Pyodide. Everything it sends is treated as untrusted: each frame is decoded
 * and checked by the bridge (pyodide/bridge.ts), and a malformed one kills it. It runs one script at a time and keeps Python globals between runs.
 */
export class SandboxProcess {
  readonly id = nextSandboxId++;
  readonly ready: Promise<{ bootMs: number; jspi: boolean }>;
  readonly exited: Promise<void>;
  /** After `exited`, once the child's pipes are closed too: nothing of it is left on the event loop. */
  readonly closed: Promise<void>;
  #child: ChildProcessWithoutNullStreams;
  #alive = true;
  #listener: SandboxRunListener | null = null;
  #finishRun: ((outcome: SandboxRunOutcome) => void) | null = null;
  #diagnostics = "";
  /** Tool results sent during the current run; an idle report counts the ones the child had received. */
  #resultsSent = 0;
  #splitter: LineSplitter;
  #markReady: (value: { bootMs: number; jspi: boolean }) => void = () => {};
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  /** The largest memoryBytes of any run here: WebAssembly memory never shrinks, so a later run may hold it. */
  #memoryBytes = 0;
  #memoryStop: MemoryLimitStop | null = null;
  /** The reset in progress: settled by the child's ready frame, its exit, or the timeout. */
  #reset: { done(): void; fail(why: string): void } | null = null;
  #resets = 0;
  /** Python ran here since the start or the last reset: only then does the interpreter need a reset. */
  #pythonRan = false;
  #reuses = 0;
  readonly #unrefWhenIdle: boolean;
  #memoryWatch = new MemoryWatch(
    () => this.#child.pid,
    (stop) => {
      this.#memoryStop = stop;
      this.kill();
    },
  );

  /**
   * `unrefWhenIdle` (the pool's sandboxes): the sandbox holds the host process only while it runs a script
   * or is being killed, so an engine nobody closed does not keep it alive; an idle sandbox left behind dies
   * with it (its stdin ends, and bubblewrap's --die-with-parent). Without it, as a bare sandbox, it always does.
   */
  constructor(runtime: SandboxRuntime, memoryBytes: number, snapshotPath: string | null = null, unrefWhenIdle = false) {
    this.#unrefWhenIdle = unrefWhenIdle;
    const { command, args } = sandboxCommand(runtime, memoryBytes, { path: snapshotPath });
    this.#child = spawn(command, args, { env: { ...SANDBOX_ENV }, stdio: ["pipe", "pipe", "pipe"], cwd: "/" });
    let markReady: (value: { bootMs: number; jspi: boolean }) => void = () => {};
    let failReady: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // Callers that never await `ready` must not see an unhandled rejection.
    this.ready.catch(() => {});
    this.#markReady = (value) => markReady(value);
    const splitter = new LineSplitter(
      (line) => decodeChildFrame(line, this.#frames),
      () => this.#protocolViolation(FrameFault.TooLong, "a frame longer than the tool input limit"),
    );
    this.#splitter = splitter;
    this.#child.stdout.setEncoding("utf8");
    this.#child.stdout.on("data", (chunk: string) => splitter.push(chunk));
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (chunk: string) => {
      this.#diagnostics = (this.#diagnostics + chunk).slice(-4000);
    });
    this.#child.stdin.on("error", () => {});
    this.closed = new Promise((resolve) => this.#child.once("close", () => resolve()));
    this.exited = new Promise((resolve) => {
      this.#child.on("exit", (code, signal) => {
        this.#alive = false;
        holdEventLoop(this.#child, true); // its pipes, until they close
        this.#exitCode = code;
        this.#exitSignal = signal;
        failReady(new Error(`sandbox exited during start-up (code ${code}, signal ${signal}): ${this.#diagnostics}`));
        this.#reset?.fail(`the sandbox exited (code ${code}, signal ${signal})`);
        const memoryLimit: MemoryLimitStop | null =
          this.#memoryStop ?? (jsHeapExhausted(this.#diagnostics) ? { kind: "js-heap" } : null);
        this.#endRun({
          kind: "exited",
          exitCode: code,
          signal,
          diagnostics: this.#diagnostics,
          ...(memoryLimit ? { memoryLimit } : {}),
        });
        resolve();
      });
      this.#child.on("error", (error) => {
        this.#diagnostics += String(error);
        failReady(error);
      });
    });
    // Starting and idle, it must not keep the host process alive on its own (an engine nobody closed).
    if (this.#unrefWhenIdle) holdEventLoop(this.#child, false);
  }

  get alive(): boolean {
    return this.#alive;
  }

  get busy(): boolean {
    return this.#finishRun !== null || this.#reset !== null;
  }

  /** How many times reset() has completed on this process. */
  get resets(): number {
    return this.#resets;
  }

  /**
   * Whether a Python script ran since the process started or was last reset. A JavaScript run never touches
   * the Pyodide instance (its QuickJS is a wasm instance of its own, dropped at the run's end), so a
   * sandbox that ran only JavaScript is as clean as a reset one (sandbox-reuse.ts).
   */
  get pythonRan(): boolean {
    return this.#pythonRan;
  }

  /** Times this process was handed to another execution without a reset (JavaScript only since its last). */
  get reuses(): number {
    return this.#reuses;
  }

  /** The pool hands it to another execution as it is (sandbox-reuse.ts decided it needs no reset). */
  markReused(): void {
    this.#reuses++;
  }

  /**
   * Gives the child a fresh Python interpreter (a new Pyodide instance from the memory snapshot, in the same
   * process, the old instance dropped and garbage-collected), as clean as a newly started sandbox. Resolves
   * once the child reports ready again; rejects with a PtcError `sandbox_reset_failed` (and kills the
   * process) when the child fails, times out, or is not idle. Never call it while a run is in progress.
   */
  reset(timeoutMs = DEFAULT_RESET_TIMEOUT_MS): Promise<void> {
    const failed = (why: string) => {
      this.kill();
      return new PtcError(ErrorCode.SandboxResetFailed, `sandbox reset failed: ${why}`, { sandbox: this.id });
    };
    if (!this.#alive) return Promise.reject(failed("the sandbox has exited"));
    if (this.busy) return Promise.reject(failed("the sandbox is running a script or resetting"));
    holdEventLoop(this.#child, true);
    return new Promise<void>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        this.#reset = null;
        if (this.#unrefWhenIdle && this.#alive && !this.#child.killed) holdEventLoop(this.#child, false);
      };
      const timer = setTimeout(() => this.#reset?.fail(`no ready frame within ${timeoutMs} ms`), timeoutMs);
      this.#reset = {
        done: () => {
          settle();
          this.#resets++;
          this.#pythonRan = false;
          resolve();
        },
        fail: (why) => {
          settle();
          reject(failed(why));
        },
      };
      this.#write(RESET_FRAME);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Runs one script; resolves when the guest reports done or the process ends. */
  run(request: SandboxRunRequest, listener: SandboxRunListener): Promise<SandboxRunOutcome> {
    if (!this.#alive) {
      return Promise.resolve({
        kind: "exited",
        exitCode: this.#exitCode,
        signal: this.#exitSignal,
        diagnostics: this.#diagnostics,
      });
    }
    if (this.#finishRun) throw new Error("sandbox is already running a script");
    holdEventLoop(this.#child, true);
    this.#listener = listener;
    this.#resultsSent = 0;
    const language = request.language ?? "python";
    if (language === "python") this.#pythonRan = true;
    const maxToolInputBytes = request.maxToolInputBytes ?? DEFAULT_MAX_TOOL_INPUT_BYTES;
    this.#splitter.maxLineLength = maxChildFrameChars({ maxToolInputBytes, errorReportChars: MAX_ERROR_REPORT_CHARS });
    const outcome = new Promise<SandboxRunOutcome>((resolve) => {
      this.#finishRun = resolve;
    });
    // Memory the child's cap does not see (ArrayBuffers, the JS heap) is bounded from here, while it runs.
    this.#memoryBytes = Math.max(this.#memoryBytes, request.memoryBytes);
    this.#memoryWatch.start(sandboxMemoryBound(this.#memoryBytes));
    this.#write(
      encodeRunFrame({
        code: request.code,
        ...(language !== "python" ? { language } : {}),
        tools: JSON.stringify(request.tools),
        resultMode: request.resultMode,
        caps: {
          maxOutputBytes: request.maxOutputBytes,
          memoryBytes: request.memoryBytes,
          maxToolInputBytes,
          maxToolCalls: request.maxToolCalls ?? 0,
          maxToolNameChars: MAX_TOOL_NAME_CHARS,
          maxInputDepth: MAX_TOOL_INPUT_DEPTH,
          errorReportChars: MAX_ERROR_REPORT_CHARS,
        },
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(request.replay ? { replay: request.replay } : {}),
      }),
    );
    return outcome;
  }

  /**
   * `payloadJson` must be JSON text without raw newlines (JSON.stringify output is). The first result of a
   * turn of the host's event loop is written at once (a sequential call waits for it); the ones after it in
   * the same turn (an `asyncio.gather`'s, answered together) are written together when the turn ends, in one
   * write(2) the child reads as one chunk and hands to Python in one go.
   */
  sendToolResult(callId: number, ok: boolean, payloadJson: string): void {
    this.#resultsSent++;
    const frame = encodeResultFrame(callId, ok, payloadJson);
    if (this.#resultsHeld !== null) {
      this.#resultsHeld = `${this.#resultsHeld}${frame}\n`;
      return;
    }
    this.#resultsHeld = "";
    setImmediate(this.#flushResults);
    this.#write(frame);
  }

  /** Results held until the turn ends ("": none yet, but one was written this turn), or null. */
  #resultsHeld: string | null = null;
  readonly #flushResults = () => {
    const held = this.#resultsHeld;
    this.#resultsHeld = null;
    if (held) this.#writeRaw(held);
  };

  /**
   * CPU time (user + system, all threads) the sandbox's processes have used, in ms, from /proc; undefined
   * where that is not available. Read by the host, so nothing in the sandbox can understate it.
   */
  cpuTimeMs(): number | undefined {
    const pid = this.#child.pid;
    if (pid === undefined || !this.#alive || process.platform !== "linux") return undefined;
    return treeCpuTimeMs(pid);
  }

  /** SIGKILL: the only stop that also ends C-level loops and blocking sleeps. */
  kill(): void {
    if (!this.#alive) return;
    // Killed, the process and its pipes hold the host until they are gone (whoever awaits `closed` sees it).
    holdEventLoop(this.#child, true);
    // bubblewrap forks (its pid-namespace init, then node); kill the whole tree, so that a kill
    // landing before bubblewrap has armed --die-with-parent cannot leave an orphan behind.
    const pid = this.#child.pid;
    if (pid !== undefined && process.platform === "linux") {
      for (const descendant of descendants(pid)) {
        try {
          process.kill(descendant, "SIGKILL");
        } catch {}
      }
    }
    this.#child.kill("SIGKILL");
  }

  /** Writes `line` now, after any results held for the end of the turn: frames keep their order. */
  #write(line: string): void {
    const held = this.#resultsHeld;
    if (held) this.#resultsHeld = "";
    this.#writeRaw(held ? `${held}${line}\n` : `${line}\n`);
  }

  #writeRaw(text: string): void {
    if (this.#alive && this.#child.stdin.writable) this.#child.stdin.write(text);
  }

  #endRun(outcome: SandboxRunOutcome): void {
    this.#memoryWatch.stop();
    const finish = this.#finishRun;
    this.#finishRun = null;
    this.#listener = null;
    if (this.#unrefWhenIdle && this.#alive && !this.#child.killed) holdEventLoop(this.#child, false);
    finish?.(outcome);
  }

  #protocolViolation(fault: FrameFault, line: string): void {
    this.#diagnostics += `\nprotocol violation (${fault}): ${line.slice(0, 200)}`;
    this.kill();
  }

  /** The child's frames, decoded and checked by the bridge; what they mean depends on the run in progress. */
  readonly #frames: ChildFrameSink = {
    // At start-up; after that, only as the end of a reset (anything else from the child is ignored).
    ready: (bootMs, jspi) => {
      this.#markReady({ bootMs, jspi });
      if (!this.#finishRun) this.#reset?.done();
    },
    call: (callId, name, inputJson) => {
      if (!this.#listener) this.#protocolViolation(FrameFault.BadCallId, "a tool call outside a run");
      else this.#listener.onToolCall(callId, name, inputJson);
    },
    output: (stream, text) => this.#listener?.onOutput(stream, text),
    truncated: (stream, dropped) => this.#listener?.onTruncated?.(stream, dropped),
    // An idle report that crossed a result on the pipe is stale: the script is running again.
    idle: (resultsReceived) => {
      if (resultsReceived === this.#resultsSent) this.#listener?.onIdle?.();
    },
    busy: () => this.#listener?.onBusy?.(),
    cancel: (callId) => this.#listener?.onToolCancel?.(callId),
    done: (error, dropped, memoryLimitHit) =>
      this.#endRun({ kind: "done", error: checkedGuestError(error), dropped, memoryLimitHit }),
    fault: (fault, line) => this.#protocolViolation(fault, line),
  };
}
