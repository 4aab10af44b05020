import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { holdEventLoop } from "./event-loop-hold.js";
import { checkedGuestError } from "./guest-error-report.js";
import { jsHeapExhausted, type MemoryLimitStop, MemoryWatch, sandboxMemoryBound } from "./memory-watch.js";
import { descendants, ProcessTree, wrapperExecutable } from "./process-tree.js";
import {
  type ChildFrameSink,
  type CodeCacheUse,
  decodeChildFrame,
  encodeResultFrame,
  FrameFault,
  RESET_FRAME,
} from "./pyodide/bridge.js";
import { LineSplitter } from "./pyodide/line-splitter.js";
import { DEFAULT_RESET_TIMEOUT_MS, PendingReset, resetFailed } from "./sandbox-reset.js";
import { SandboxUse } from "./sandbox-reuse.js";
import {
  runFrame,
  runMaxFrameChars,
  type SandboxRunListener,
  type SandboxRunOutcome,
  type SandboxRunRequest,
} from "./sandbox-run.js";
import { SANDBOX_ENV, type SandboxRuntime, sandboxCommand } from "./sandbox-runtime.js";

export type { GuestError } from "./guest-error-report.js";
export { DEFAULT_RESET_TIMEOUT_MS } from "./sandbox-reset.js";
export type { SandboxRunListener, SandboxRunOutcome, SandboxRunRequest } from "./sandbox-run.js";

let nextSandboxId = 1;

/** What a sandbox reports once started: its start's wall time in the child, and how Pyodide was set up there. */
export interface SandboxReady {
  bootMs: number;
  /** Stack switching (`asyncio.run` in scripts). */
  jspi: boolean;
  /** Whether Pyodide's JavaScript came from the snapshot's code cache (child-pyodide-js.ts). */
  codeCache: CodeCacheUse;
}

/**
 * One child process running Pyodide. Everything it sends is treated as untrusted: each frame is decoded
 * and checked by the bridge (pyodide/bridge.ts), and a malformed one kills it. It runs one script at a time and keeps Python globals between runs.
 */
export class SandboxProcess {
  readonly id = nextSandboxId++;
  readonly ready: Promise<SandboxReady>;
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
  #markReady: (value: SandboxReady) => void = () => {};
  #exitCode: number | null = null;
  #resetsKeepingMemory = 0;
  #exitSignal: NodeJS.Signals | null = null;
  /** The largest memoryBytes of any run here: WebAssembly memory never shrinks, so a later run may hold it. */
  #memoryBytes = 0;
  #memoryStop: MemoryLimitStop | null = null;
  /** The reset in progress (sandbox-reset.ts). */
  #reset: PendingReset | null = null;
  /** What ran here and how often it served since it started: what the pool's reuse decision reads. */
  readonly #use = new SandboxUse();
  readonly #unrefWhenIdle: boolean;
  /** The child's process tree, read at each run's start and end and while it runs (process-tree.ts). */
  readonly #tree: ProcessTree;
  readonly #memoryWatch = new MemoryWatch(
    () => this.#tree.residentBytes(),
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
    this.#tree = new ProcessTree(
      process.platform === "linux" ? this.#child.pid : undefined,
      wrapperExecutable(runtime.bubblewrapPath),
    );
    let markReady: (value: SandboxReady) => void = () => {};
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
    this.#child.stdout.on("data", (chunk: string) => {
      // The child spoke: the next result is the first it waits for since (sendToolResult).
      this.#resultWritten = false;
      splitter.push(chunk);
    });
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (chunk: string) => {
      this.#diagnostics = (this.#diagnostics + chunk).slice(-4000);
    });
    this.#child.stdin.on("error", () => {});
    // Two turns after "close": Node closes the process's and the pipes' handles asynchronously (libuv runs
    // close callbacks at the end of a loop turn, after setImmediate's), so at "close" itself a killed sandbox's
    // ProcessWrap and a PipeWrap could still be on the event loop (the engine-leftovers test, ~2 in 12 under load).
    this.closed = new Promise((resolve) => this.#child.once("close", () => setImmediate(() => setImmediate(resolve))));
    this.exited = new Promise((resolve) => {
      this.#child.on("exit", (code, signal) => {
        this.#alive = false;
        this.#tree.close();
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
    return this.#use.resets;
  }

  /**
   * Of those, the resets whose interpreter got the previous one's wasm memory, cleared, rather than a new one
   * (child-wasm-memory.ts; as the child reports it: for tests and benchmarks, nothing depends on it).
   */
  get resetsKeepingMemory(): number {
    return this.#resetsKeepingMemory;
  }

  /** Whether a Python script ran since the start or the last reset (sandbox-reuse.ts `SandboxUse`). */
  get pythonRan(): boolean {
    return this.#use.pythonRan;
  }

  /** Times this process was handed to another execution without a reset (JavaScript only since its last). */
  get reuses(): number {
    return this.#use.reuses;
  }

  /** The pool hands it to another execution as it is (sandbox-reuse.ts decided it needs no reset). */
  markReused(): void {
    this.#use.wasReused();
  }

  /**
   * Gives the child a fresh Python interpreter (a new Pyodide instance from the memory snapshot, in the same
   * process, the old instance dropped and garbage-collected), as clean as a newly started sandbox. Resolves
   * once the child reports ready again; rejects with a PtcError `sandbox_reset_failed` (and kills the
   * process) when the child fails, times out, or is not idle. Never call it while a run is in progress.
   */
  reset(timeoutMs = DEFAULT_RESET_TIMEOUT_MS): Promise<void> {
    const refused = (why: string) => {
      this.kill();
      return Promise.reject(resetFailed(this.id, why));
    };
    if (!this.#alive) return refused("the sandbox has exited");
    if (this.busy) return refused("the sandbox is running a script or resetting");
    holdEventLoop(this.#child, true);
    const pending = new PendingReset(
      this.id,
      timeoutMs,
      () => {
        this.#reset = null;
        if (this.#unrefWhenIdle && this.#alive && !this.#child.killed) holdEventLoop(this.#child, false);
      },
      () => this.kill(),
    );
    this.#reset = pending;
    this.#write(RESET_FRAME);
    return pending.settled;
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
    this.#use.ran(request.language ?? "python");
    this.#splitter.maxLineLength = runMaxFrameChars(request);
    const outcome = new Promise<SandboxRunOutcome>((resolve) => {
      this.#finishRun = resolve;
    });
    this.#write(runFrame(request));
    // Memory the child's cap does not see (ArrayBuffers, the JS heap) is bounded from here, while it runs. The
    // first reading is taken once the script is written: the child starts on it meanwhile.
    this.#memoryBytes = Math.max(this.#memoryBytes, request.memoryBytes);
    this.#memoryWatch.start(sandboxMemoryBound(this.#memoryBytes));
    return outcome;
  }

  /**
   * `payloadJson` must be JSON text without raw newlines (JSON.stringify output is). The first result since
   * the child last wrote is written at once (a sequential call waits for it); the ones after it (an
   * `asyncio.gather`'s, answered together) are held until the turn of the host's event loop ends and written
   * together, in one write(2) the child reads as one chunk and hands to Python in one go. Which result is the
   * first is known from the child's chunks, not from a `setImmediate` per result: that one scheduled at every
   * sequential call cost ~1-2 µs of the host's CPU a call (BENCHMARKS.md, "One tool call").
   */
  sendToolResult(callId: number, ok: boolean, payloadJson: string): void {
    this.#resultsSent++;
    const frame = `${encodeResultFrame(callId, ok, payloadJson)}\n`;
    // Behind held results, a result waits with them: results reach the child in the order they settled.
    if (this.#resultWritten || this.#resultsHeld !== "") {
      this.#resultsHeld += frame;
      if (!this.#flushArmed) {
        this.#flushArmed = true;
        setImmediate(this.#flushResults);
      }
      return;
    }
    this.#resultWritten = true;
    this.#writeRaw(frame);
  }

  /** A result was written since the child's last chunk: the ones after it wait for the end of the turn. */
  #resultWritten = false;
  /** Results held until the turn ends ("": none). */
  #resultsHeld = "";
  #flushArmed = false;
  readonly #flushResults = () => {
    this.#flushArmed = false;
    const held = this.#resultsHeld;
    this.#resultsHeld = "";
    if (held) this.#writeRaw(held);
  };

  /**
   * CPU time (user + system, all threads) the sandbox's processes have used, in ms, from /proc; undefined
   * where that is not available. Read by the host, so nothing in the sandbox can understate it.
   */
  cpuTimeMs(): number | undefined {
    return this.#alive ? this.#tree.cpuTimeMs() : undefined;
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
    this.#resultsHeld = "";
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
    ready: (bootMs, jspi, codeCache, memory) => {
      this.#markReady({ bootMs, jspi, codeCache });
      if (this.#finishRun || !this.#reset) return;
      this.#use.wasReset();
      if (memory === "reused") this.#resetsKeepingMemory++;
      this.#reset.done();
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
