// A JavaScript (or TypeScript) run in the sandbox child: a fresh QuickJS wasm instance per execution
// (js-engine.ts), the guest's globals (js-guest-globals.ts), and the child's one call path (child-calls.ts:
// call frames, results, idle reports, replay, the call and input caps). The script is evaluated, and every
// result, timer and journaled reply resumes it, inside a step of child-calls.ts's scheduler (`schedule`,
// `endOfHostChunk`), so frames made meanwhile leave in one write and the host learns when the script is idle,
// exactly as for Python. QuickJS runs its promise jobs only when asked (`executePendingJobs`): each step runs
// them all. Nothing here touches the Pyodide instance or the realm it shares with the child. Part of the
// child: erasable syntax, node: builtins and sibling modules only.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten-core";
import type { BridgeCaps } from "./bridge.ts";
import { callTool, guestClearTimeout, guestSetTimeout, schedule, stopScript } from "./child-calls.ts";
import type { GuestHooks } from "./child-guest-hooks.ts";
import { dropWaiting, getWaiting, indexOf, promiseThen, putWaiting, sliceText, uncurry } from "./child-intrinsics.ts";
import { makeWriter } from "./child-output.ts";
import { newQuickJS, quickJSUnavailable } from "./js-engine.ts";
import { PRELUDE, SCRIPT_NAME, wrapScript } from "./js-guest-globals.ts";
import { errorJson, memoryError, stripped } from "./js-guest-reports.ts";
import { guestLibrary } from "./js-guest-web.ts";

/**
 * The QuickJS stack limit. V8 gives the child ~1 MB of native stack and QuickJS's own frames live on the
 * wasm shadow stack: a limit well below both makes deep recursion a catchable guest error ("stack overflow",
 * at ~3,500 plain frames) instead of a crash of the child.
 */
export const DEFAULT_JS_STACK_BYTES = 256 * 1024;

/**
 * QuickJS's heap limit sits this far above the run's `memoryBytes`. The wasm memory's growth is capped at
 * `memoryBytes` (child-memory-cap.ts), and that refusal is what the child reports as the memory limit (a
 * script cannot fake it); QuickJS's own limit only backs it up. Either makes malloc fail, and QuickJS
 * throws an `out of memory` InternalError the script may catch.
 */
export const JS_HEAP_HEADROOM_BYTES = 8 * 1024 * 1024;

const encoder = new TextEncoder();
// Captured when the child loads: what V8 throws when its stack overflows (see `#guarded`).
const StackOverflow = RangeError;
const encode = uncurry(TextEncoder.prototype.encode);
const writers = { stdout: makeWriter("stdout"), stderr: makeWriter("stderr") };

export interface JavaScriptRunRequest {
  code: string;
  typescript: boolean;
  /** The run frame's tools JSON: `[{name, pythonName, allowedCallers?}]`. */
  tools: string;
  resultMode: string;
  caps: BridgeCaps;
  /** Seeds Math.random; -1: none sent, a seed of the child's own. */
  seed: number;
}

/**
 * One execution's QuickJS: `hooks` take the host's results and a replay's replies (child-calls.ts
 * `connectGuest`), `run` evaluates the script and resolves with "" or its error report when it ends.
 */
export class JavaScriptRun {
  readonly hooks: GuestHooks;
  #runtime: QuickJSRuntime | null = null;
  #context: QuickJSContext | null = null;
  #api: QuickJSHandle | null = null;
  /**
   * The prelude's `receive` and `fire`, looked up once: a lookup per result (a key string into the wasm heap,
   * a property read, a handle and its disposal) was ~1-2 of the ~19 µs of CPU a call costs in QuickJS.
   */
  #receiveFn: QuickJSHandle | null = null;
  #fireFn: QuickJSHandle | null = null;
  #takeCallsFn: QuickJSHandle | null = null;
  /** The guest's calls taken so far: the next one's number in the guest (the prelude counts them alike). */
  #callsTaken = 0;
  /** The guest's number of each call the host or a replay will answer, by the child's call id. */
  readonly #guestNumbers = new Map<number, number>();
  #finish: (errorJson: string) => void = () => {};
  #stopped = false;

  constructor() {
    this.hooks = {
      deliver: (callId, reply) => {
        const number = this.#guestNumber(callId);
        schedule(() => this.#guarded(() => this.#receive([[number, reply]])));
      },
      receive: (callId, reply) => this.#guarded(() => this.#receive([[this.#guestNumber(callId), reply]])),
      receiveAll: (batch) => {
        const replies: Array<[number, string]> = [];
        let at = 0;
        while (at < batch.length) {
          const space = indexOf(batch, " ", at);
          let end = indexOf(batch, "\n", space);
          if (end === -1) end = batch.length;
          replies[replies.length] = [
            this.#guestNumber(Number(sliceText(batch, at, space))),
            sliceText(batch, space + 1, end),
          ];
          at = end + 1;
        }
        this.#guarded(() => this.#receive(replies));
      },
    };
  }

  async run(request: JavaScriptRunRequest): Promise<string> {
    const unavailable = quickJSUnavailable();
    if (unavailable) return errorJson("SandboxError", unavailable);
    let source = wrapScript(request.code);
    if (request.typescript) {
      const result = stripped(source);
      if ("error" in result) return result.error;
      source = result.code;
    }
    const quickjs = await newQuickJS();
    const runtime = quickjs.newRuntime();
    const memoryBytes = request.caps.memoryBytes;
    // QuickJS's own limit is a backstop above the wasm cap: the cap's refusal is what the host trusts.
    if (memoryBytes > 0) runtime.setMemoryLimit(memoryBytes + JS_HEAP_HEADROOM_BYTES);
    runtime.setMaxStackSize(DEFAULT_JS_STACK_BYTES);
    // QuickJS asks this every few thousand instructions: a stopped run (the call limit, a divergence) unwinds
    // at once, even from a loop that never awaits, rather than holding the child until the host's deadline.
    runtime.setInterruptHandler(() => this.#stopped);
    runtime.setModuleLoader(() => ({ error: new Error("modules cannot be imported in the ptc sandbox") }));
    const context = runtime.newContext();
    this.#runtime = runtime;
    this.#context = context;
    const finished = new Promise<string>((resolve) => {
      this.#finish = resolve;
    });
    const tools = (JSON.parse(request.tools) as Array<{ name: string; allowedCallers?: string[] }>).map(
      ({ name, allowedCallers }) => (allowedCallers ? { name, allowedCallers } : { name }),
    );
    const seed = request.seed >= 0 ? request.seed : Math.floor(Math.random() * 2 ** 53);
    const config = JSON.stringify({
      tools,
      resultMode: request.resultMode,
      maxInputDepth: request.caps.maxInputDepth,
      // Infinity does not survive JSON: 0 means none.
      maxToolInputBytes: Number.isFinite(request.caps.maxToolInputBytes) ? request.caps.maxToolInputBytes : 0,
      maxOutputBytes: request.caps.maxOutputBytes,
      errorReportChars: request.caps.errorReportChars,
      seed,
    });
    schedule(() => this.#guarded(() => this.#start(source, config)));
    return finished;
  }

  /** The run was stopped (child-calls.ts `stopScript`): the script is interrupted wherever it is. */
  stop(): void {
    this.#stopped = true;
  }

  /** Drops the execution's QuickJS: its wasm instance (memory and all) is garbage from here. */
  end(): void {
    this.#stopped = true;
    this.#finish = () => {};
    this.#api = this.#receiveFn = this.#fireFn = this.#takeCallsFn = null;
    this.#context = null;
    this.#runtime = null;
  }

  /** The guest's number for the child's call `callId` (0, which no call has, once answered or unknown). */
  #guestNumber(callId: number): number {
    const number = getWaiting(this.#guestNumbers, callId) ?? 0;
    dropWaiting(this.#guestNumbers, callId);
    return number;
  }

  #start(source: string, config: string): void {
    const context = this.#context;
    if (!context) return;
    const host = this.#hostObject(context);
    const prelude = context.unwrapResult(context.evalCode(PRELUDE, "ptc-prelude.js"));
    const configHandle = context.newString(config);
    const api = context.unwrapResult(context.callFunction(prelude, context.undefined, host, configHandle));
    configHandle.dispose();
    prelude.dispose();
    host.dispose();
    this.#api = api;
    this.#receiveFn = context.getProp(api, "receive");
    this.#fireFn = context.getProp(api, "fire");
    this.#takeCallsFn = context.getProp(api, "takeCalls");
    const main = context.evalCode(source, SCRIPT_NAME);
    if (main.error) {
      this.#finish(this.#report(main.error));
      main.error.dispose();
      return;
    }
    const run = context.getProp(api, "run");
    this.#callApi(run, [main.value], false);
    run.dispose();
    main.value.dispose();
    this.#pump();
  }

  /** The `host` object the prelude's functions reach: the guest's only way out of its interpreter. */
  #hostObject(context: QuickJSContext): QuickJSHandle {
    const host = context.newObject();
    const define = (name: string, fn: (...args: QuickJSHandle[]) => QuickJSHandle | undefined) => {
      const handle = context.newFunction(name, fn);
      context.setProp(host, name, handle);
      handle.dispose();
    };
    define("write", (stream, text) => {
      // The calls made before this output leave before it.
      this.#sendCalls();
      const writer = context.getString(stream) === "stderr" ? writers.stderr : writers.stdout;
      writer.write(encode(encoder, context.getString(text)));
      return undefined;
    });
    define("setTimer", (delay) => {
      const id: number = guestSetTimeout(
        () => schedule(() => this.#guarded(() => this.#fire(id))),
        context.getNumber(delay),
      );
      return context.newNumber(id);
    });
    define("clearTimer", (id) => {
      guestClearTimeout(context.getNumber(id));
      return undefined;
    });
    // The source of a library the prelude evaluates on first use (js-guest-web.ts `guestLibrary`).
    define("source", (name) => context.newString(guestLibrary(context.getString(name))));
    define("sendCalls", () => {
      this.#sendCalls();
      return undefined;
    });
    define("done", (error) => {
      this.#sendCalls();
      this.#finish(memoryError(context.getString(error)));
      return undefined;
    });
    return host;
  }

  /**
   * QuickJS's stack limit (DEFAULT_JS_STACK_BYTES) counts its own stack, in wasm memory. Its native recursion
   * (JSON.stringify and JSON.parse of deep nesting, String() of nested arrays, toJSON chains) uses far more of
   * V8's stack per level than of that one, and overflows V8's first: V8 throws a RangeError out of the wasm call,
   * which used to end the child (sandbox_crashed). The instance is left mid-call, so it is never entered again;
   * it is dropped with the run anyway. The run ends with the guest's own stack overflow error.
   */
  #guarded(body: () => void): void {
    try {
      body();
    } catch (error) {
      if (!(error instanceof StackOverflow) || !this.#context) throw error;
      this.#api = this.#receiveFn = this.#fireFn = this.#takeCallsFn = null;
      this.#context = null;
      this.#runtime = null;
      stopScript(errorJson("InternalError", "stack overflow (the script nested too deeply)"));
    }
  }

  #receive(replies: ReadonlyArray<readonly [number, string]>): void {
    const context = this.#context;
    if (!context) return;
    for (const [callId, reply] of replies) {
      const id = context.newNumber(callId);
      const text = context.newString(reply);
      // `receive` returns nothing: no report to read back out of the interpreter.
      this.#callApi(this.#receiveFn, [id, text], false);
      id.dispose();
      text.dispose();
    }
    this.#pump();
  }

  #fire(timerId: number): void {
    const context = this.#context;
    if (!context) return;
    const id = context.newNumber(timerId);
    const error = this.#callApi(this.#fireFn, [id], true);
    id.dispose();
    // An exception a timer's callback left uncaught ends the run, as an uncaught one in the script does.
    if (error) stopScript(error);
    else this.#pump();
  }

  /**
   * Calls the prelude's function `fn` with `args`; returns what it returned if a string (a report) and
   * `report` is set, else "".
   */
  #callApi(fn: QuickJSHandle | null, args: QuickJSHandle[], report: boolean): string {
    const context = this.#context;
    const api = this.#api;
    if (!context || !api || !fn) return "";
    const result = context.callFunction(fn, api, args);
    if (result.error) {
      this.#fail(result.error);
      result.error.dispose();
      return "";
    }
    const value = report && context.typeof(result.value) === "string" ? context.getString(result.value) : "";
    result.value.dispose();
    return value;
  }

  /** Runs every promise job QuickJS has queued: the script goes as far as it can before it waits again. */
  #pump(): void {
    const runtime = this.#runtime;
    if (!runtime) return;
    const jobs = runtime.executePendingJobs();
    this.#sendCalls();
    if (jobs.error) {
      this.#fail(jobs.error);
      jobs.error.dispose();
    }
  }

  /**
   * Takes the calls the guest made since the last time out of its outbox and makes each a call of the child
   * (child-calls.ts `callTool`: its checks, then a frame, a replay's journal, or a refusal), in order.
   */
  #sendCalls(): void {
    const context = this.#context;
    const api = this.#api;
    if (!context || !api || !this.#takeCallsFn) return;
    const result = context.callFunction(this.#takeCallsFn, api, []);
    if (result.error) {
      this.#fail(result.error);
      result.error.dispose();
      return;
    }
    const calls = context.getString(result.value);
    result.value.dispose();
    let at = 0;
    while (at < calls.length) {
      const nameEnd = indexOf(calls, "\n", at);
      let inputEnd = indexOf(calls, "\n", nameEnd + 1);
      if (inputEnd === -1) inputEnd = calls.length;
      this.#call(++this.#callsTaken, sliceText(calls, at, nameEnd), sliceText(calls, nameEnd + 1, inputEnd));
      at = inputEnd + 1;
    }
  }

  /** The guest's call `number`: the child's live call, a journaled one (a replay answers it), or a refusal. */
  #call(number: number, name: string, input: string): void {
    const called = callTool(name, input, true);
    if (typeof called === "number") {
      putWaiting(this.#guestNumbers, called < 0 ? -called : called, number);
      return;
    }
    // A refusal: settled through the scheduler, as a result is (a loop retrying it can still be stopped).
    promiseThen(
      called,
      ((reply: string) => schedule(() => this.#guarded(() => this.#receive([[number, reply]])))) as () => void,
      () => {},
    );
  }

  /** An exception escaped the prelude itself (out of memory, a broken runtime): the run ends with it. */
  #fail(error: QuickJSHandle): void {
    stopScript(this.#report(error));
  }

  /** The guest's error as a report, through the prelude when it can still run, else from its fields here. */
  #report(error: QuickJSHandle): string {
    const context = this.#context;
    if (!context) return errorJson("Error", "the script failed");
    let name = "Error";
    let message = "";
    try {
      const dumped = context.dump(error) as { name?: unknown; message?: unknown } | string;
      if (typeof dumped === "object" && dumped !== null) {
        name = typeof dumped.name === "string" ? dumped.name : name;
        message = typeof dumped.message === "string" ? dumped.message : "";
      } else message = String(dumped);
    } catch {}
    if (this.#api) {
      const report = this.#callApiQuiet("report", error);
      if (report) return memoryError(report);
    }
    return memoryError(errorJson(name, message));
  }

  #callApiQuiet(name: string, arg: QuickJSHandle): string {
    const context = this.#context;
    const api = this.#api;
    if (!context || !api) return "";
    try {
      const fn = context.getProp(api, name);
      const result = context.callFunction(fn, api, arg);
      fn.dispose();
      if (result.error) {
        result.error.dispose();
        return "";
      }
      const value = context.typeof(result.value) === "string" ? context.getString(result.value) : "";
      result.value.dispose();
      return value;
    } catch {
      return "";
    }
  }
}
