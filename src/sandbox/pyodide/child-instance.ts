// One Pyodide instance of the sandbox child: a Python interpreter built from the memory snapshot, its
// streams and bridge installed, guest.py run and locked down. The child builds one at start-up and a new
// one at each reset (child.ts): a new wasm instance, table, file system and proxy table, and a memory as a new
// one is (child-wasm-memory.ts), so nothing of the old interpreter's Python state survives. What instances
// share is this JS realm (child-hardening.ts freezes what of it the guest can reach) and the compiled module's
// code (child-wasm-module.ts). Part of the child: erasable syntax and node: builtins only.
import { constants as fsConstants, readFileSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { GuestHooks, ReceiveResult, ReceiveResults } from "./child-guest-hooks.ts";
import { collectForBuild } from "./child-heap.ts";
import { exit } from "./child-intrinsics.ts";
import { makeWriter } from "./child-output.ts";
import { makeCodeCache, pyodideModule } from "./child-pyodide-js.ts";
import { restoreRealm } from "./child-realm.ts";
import type { DeliverReply } from "./child-replay.ts";
import { closeSnapshot, openSnapshot, restoringSparsely } from "./child-sparse-restore.ts";
import { watchStdFds } from "./child-std-fds.ts";
import type { Wakeups } from "./child-wakeups.ts";
import { releasingWasmBytes } from "./child-wasm-bytes.ts";
import { keepingWasmModule, moduleKept } from "./child-wasm-module.ts";

// Modules the guest runtime needs, imported before a snapshot so restoring one has them ready.
export const PRELOAD =
  "import asyncio, json, linecache, traceback, builtins, sys, pyodide.webloop, pyodide.code, pyodide.ffi";

// A throwaway workload before the first ready, through the same path as real runs, so the first execution
// in a fresh sandbox does not pay for compiling what every run uses (V8 compiles each wasm and JS function
// the first time it runs). Not after a reset: the code stays compiled. Thirty rounds, not 300 (until stop
// 27): at 300 the loop also made V8 optimise CPython's hottest functions on its workers before ready, which a
// sandbox that runs light scripts never needs. Per start (8 alternated): 623 -> 536 ms to ready, CPU at ready
// 820 -> 690 ms, 2.5 s later 915 -> 840; a small script's first run no slower (8-11 ms either way), a
// CPU-bound loop's first run ~25 ms slower while V8 optimises it then (later runs the same), a run in an
// existing container ~0.1 ms slower (~1.6 -> ~1.7 ms) until its own runs warm CPython's compile path.
export const WARM_UP = `
import asyncio, json
for i in range(30):
    text = json.dumps({"i": i, "s": f"item {i}", "l": [i, i * 2.5, None, True]})
    json.loads(text)["l"].append(str(i))
    try:
        compile(f"x = {i}", "w.py", "exec")
        raise ValueError(i)
    except ValueError:
        pass
    if i % 10 == 0:
        await asyncio.sleep(0)
`;

// After a reset, one run of nothing before ready: the new instance's first run pays for what its JS and
// Python do once (new closures for V8 to optimise again, first-call paths), and the one-off execution served
// next would. Measured (child CPU of the first run of "pass" after a reset, medians of 10, load ~14):
// 3.6 -> 2.4 ms, off the execution's path for ~1 ms more per reset.
export const AFTER_RESET = "pass";

/** The `js` module of every instance (one object, put back at each reset by child-realm.ts). */
export function jsModule(
  wakeups: Wakeups,
  setTimeout: (...args: never[]) => unknown,
  clearTimeout: (id: unknown) => void,
) {
  return {
    Object,
    Array: wakeups.watched(Array),
    Promise: wakeups.watched(Promise),
    Error,
    JSON,
    Date,
    Math,
    setTimeout,
    clearTimeout,
  };
}

/** Node's permission model refuses process.binding, which Pyodide calls at start-up for fs constants. */
export function allowFsConstants(): void {
  (process as unknown as { binding: (name: string) => unknown }).binding = (name: string) =>
    name === "constants" ? { fs: fsConstants } : {};
}

/**
 * The interpreter itself failed in a run's first step (`_ptc_start` returns the script's own failures): a
 * fatal Pyodide error, the wasm stack overflowing. The child ends before the run's end is reported, as
 * after a scheduled step's failure (child-wakeups.ts `counted`); the host names the failure from these
 * diagnostics (guest-error.ts).
 */
function interpreterFailed(error: unknown): never {
  writeSync(2, `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  return exit(1);
}

/** A reset that cannot complete: the host reports it failed (with `why` in the sandbox's diagnostics). */
function failReset(why: string): never {
  writeSync(2, `ptc: reset failed: ${why}\n`);
  return exit(70);
}

/** `seed` seeds Python's `random` first; -1 leaves it as it is. */
export type RunFunction = (
  code: string,
  toolsJson: string,
  resultMode: string,
  maxInputDepth: number,
  seed: number,
) => Promise<string>;

/**
 * guest_loop.py's `_ptc_start`: the run's outcome ("" or the error as JSON) when its first step ended it, else
 * undefined, and `settle` gets the outcome once the run ends; false for either when the run's task itself
 * failed. Under JSPI (`callPromising`) a promise of it.
 */
type StartRun = (
  code: string,
  toolsJson: string,
  resultMode: string,
  maxInputDepth: number,
  seed: number,
  settle: (outcome: unknown) => void,
) => unknown;

/** What the child keeps of an instance: the functions guest.py defines, nothing else. */
export interface Instance extends GuestHooks {
  run: RunFunction;
  beginRun: () => void;
  endRun: () => void;
}

type PyodideApi = {
  runPythonAsync(code: string): Promise<unknown>;
  registerJsModule(name: string, module: object): void;
  unregisterJsModule(name: string): void;
  setStdout(options: object): void;
  setStderr(options: object): void;
  setStdin(options: object): void;
  globals: { get(name: string): unknown; set(name: string, value: unknown): void };
  runPython(code: string): unknown;
  makeMemorySnapshot(): Uint8Array;
  FS: Parameters<typeof watchStdFds>[0];
};
type LoadPyodide = (options: object) => Promise<PyodideApi>;

// Emscripten reads these when it builds an instance (`process` tells it it runs on Node; `Buffer`,
// `require` for its file system), and nothing the guest can reach should lead to them: they are hidden
// from the realm between builds, restored only while one runs (no guest code runs then: the old
// instance's callbacks are all dropped first, child.ts `reset`).
const NODE_GLOBALS = ["process", "fetch", "navigator", "require", "Buffer"];
// Node's web globals that load undici on first touch, and that no build reads: deleted unread, for good. V8
// materialises such a lazy property when its descriptor is read, and reading WebSocket's (to restore it
// later) compiled undici in every new sandbox, ~50-60 ms of its main thread on Node 26.
const NEVER_RESTORED = ["WebSocket", "EventSource"];
let hidden: Array<[string, PropertyDescriptor]> = [];

export function hideNodeGlobals(): void {
  for (const name of NEVER_RESTORED) Reflect.deleteProperty(globalThis, name);
  hidden = [];
  for (const name of NODE_GLOBALS) {
    const descriptor = Reflect.getOwnPropertyDescriptor(globalThis, name);
    if (descriptor) hidden.push([name, descriptor]);
    Reflect.deleteProperty(globalThis, name);
  }
}

function restoreNodeGlobals(): void {
  for (const [name, descriptor] of hidden) Reflect.defineProperty(globalThis, name, descriptor);
}

/** guest.py compiled by the first instance, before any guest code ran, as `marshal` bytes. */
let guestCode: Uint8Array | null = null;
let loadPyodide: LoadPyodide | null = null;
// Detaches a buffer, freeing its memory now (ES2024 `transfer`; a Node without it keeps the buffer).
const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer, length: number) => ArrayBuffer }).transfer;
const release = (buffer: ArrayBufferLike) => {
  if (transfer && buffer instanceof ArrayBuffer) transfer.call(buffer, 0);
};
async function load(
  pyodideDir: string,
  codeCachePath: string,
  options: object,
  snapshot: boolean,
): Promise<PyodideApi> {
  loadPyodide ??= ((await import(join(pyodideDir, "pyodide.mjs"))) as { loadPyodide: LoadPyodide }).loadPyodide;
  const createPyodideModule = pyodideModule(pyodideDir, codeCachePath);
  // A snapshot's function pointers name table slots as child-pyodide-js.ts links them: one is made and
  // restored only that way, never by Pyodide's own import of the file (a cold start may be either).
  if (snapshot && !createPyodideModule)
    throw new Error(`${pyodideDir}/pyodide.asm.mjs: not as child-pyodide-js.ts links it`);
  return loadPyodide({
    indexURL: `${pyodideDir}/`,
    ...(createPyodideModule ? { createPyodideModule } : {}),
    // `_` would otherwise be this file's host path (Emscripten's default is the program's path).
    env: { HOME: "/home/pyodide", PYTHONHASHSEED: "0", _: "/usr/bin/python3" },
    stdout: () => {},
    stderr: () => {},
    ...options,
  });
}

/**
 * Makes a memory snapshot of a fresh interpreter with PRELOAD imported and guest.py compiled (the snapshot
 * maker's run, in a child that runs no guest code). The code object waits in `__main__` as `_ptc_guest` for
 * each build to run and delete. Compiling guest.py cost every new sandbox, and unmarshalling it every reset:
 * measured (alternated, 2 cores), a start ~0.90 -> ~0.83 s of CPU and ~45 ms less wall, a reset ~300 ->
 * ~255-275 ms of CPU. The snapshot's file name hashes guest.py (memory-snapshot.ts), so the code matches it.
 * With it, V8's code cache of Pyodide's JavaScript as this start-up compiled it (child-pyodide-js.ts).
 */
export async function makeSnapshot(
  pyodideDir: string,
  jsglobals: object,
): Promise<{ snapshot: Uint8Array; codeCache: Uint8Array }> {
  const pyodide = await load(pyodideDir, "", { jsglobals, _makeSnapshot: true }, true);
  await pyodide.runPythonAsync(PRELOAD);
  pyodide.globals.set("_ptc_source", readGuestSource());
  pyodide.runPython("_ptc_guest = compile(_ptc_source, '<exec>', 'exec')\ndel _ptc_source");
  const snapshot = pyodide.makeMemorySnapshot();
  return { snapshot, codeCache: makeCodeCache() };
}

export interface InstanceOptions {
  pyodideDir: string;
  /** The memory snapshot's file; "" starts Python cold. */
  snapshotPath: string;
  /** V8's code cache of Pyodide's JavaScript, made with the snapshot (child-pyodide-js.ts); "" for none. */
  codeCachePath: string;
  /** The `js` module guest code sees. */
  jsglobals: object;
  /** Registered as `_ptc_bridge` for guest.py, which takes what it needs and removes it from sys.modules. */
  bridge: object;
  /** Takes a run's first step as the event loop's steps are taken (child-calls.ts `firstStep`). */
  firstStep: (call: () => unknown) => unknown;
}

/**
 * The guest runtime's parts, beside this file: one source, compiled once and run in the instance's __main__
 * in this order (each part uses the names of the others).
 */
export const GUEST_PARTS = ["guest.py", "guest_calls.py", "guest_loop.py"];

/** Builds instances with these options; each throws if Pyodide or guest.py fails (the child cannot serve). */
function readGuestSource(): string {
  const directory = dirname(fileURLToPath(import.meta.url));
  return GUEST_PARTS.map((part) => readFileSync(join(directory, part), "utf8")).join("\n");
}

export function instanceBuilder(options: InstanceOptions): () => Promise<Instance> {
  const guestSource = readGuestSource();
  return () => buildInstance({ ...options, stdout: makeWriter("stdout"), stderr: makeWriter("stderr"), guestSource });
}

/** Runs guest.py from marshal bytes, compiling them first if no build has yet (no snapshot: a cold start). */
async function runGuestFromMarshal(pyodide: PyodideApi, source: string): Promise<void> {
  if (guestCode === null) {
    pyodide.globals.set("_ptc_source", source);
    const dumped = pyodide.runPython("__import__('marshal').dumps(compile(_ptc_source, '<exec>', 'exec'))") as {
      toJs(): Uint8Array;
      destroy(): void;
    };
    guestCode = dumped.toJs();
    dumped.destroy();
    pyodide.runPython("del _ptc_source");
  }
  pyodide.globals.set("_ptc_code", guestCode.slice());
  await pyodide.runPythonAsync("exec(__import__('marshal').loads(_ptc_code.to_bytes()), globals())\ndel _ptc_code");
}

async function buildInstance(
  options: InstanceOptions & { stdout: object; stderr: object; guestSource: string },
): Promise<Instance> {
  restoreNodeGlobals();
  let pyodide: PyodideApi;
  try {
    // Opened at each build, its header read in, its data copied from the file (child-sparse-restore.ts), and
    // the buffer released once restored: Pyodide keeps its options (and so the buffer) for the instance's life.
    const snapshot = options.snapshotPath ? openSnapshot(options.snapshotPath) : null;
    const loading = () =>
      load(
        options.pyodideDir,
        options.codeCachePath,
        { jsglobals: options.jsglobals, ...(snapshot ? { _loadSnapshot: snapshot.bytes } : {}) },
        snapshot !== null,
      );
    const modulePath = join(resolve(options.pyodideDir), "pyodide.asm.wasm");
    try {
      pyodide = await keepingWasmModule(
        modulePath,
        () => releasingWasmBytes(() => restoringSparsely(snapshot, loading)),
        collectForBuild,
      );
    } finally {
      closeSnapshot(snapshot);
    }
    // Pyodide read the module from another path than the one kept: each reset would compile it again.
    if (!moduleKept()) throw new Error(`no compiled module kept from ${modulePath}`);
    if (snapshot) release(snapshot.bytes.buffer);
    await pyodide.runPythonAsync(PRELOAD);
  } finally {
    if (hidden.length > 0) hideNodeGlobals();
  }
  // Pyodide starts each call that may suspend (`callPromising`: every event-loop step, a tool result's) after
  // a `setImmediate` of its own, for a clean stack; a microtask gives one too (it runs once the stack has
  // unwound), without a second event-loop turn per step (child-calls.ts).
  (pyodide as unknown as { _api: { scheduleCallback: (callback: () => void) => void } })._api.scheduleCallback = (
    callback,
  ) => callback();
  pyodide.setStdout(options.stdout);
  pyodide.setStderr(options.stderr);
  // Without this, input() would read the host's protocol stream (fd 0) and block on it; scripts get EOF.
  pyodide.setStdin({ read: () => 0 });
  pyodide.registerJsModule("_ptc_bridge", { ...options.bridge, ...watchStdFds(pyodide.FS) });
  // guest.py's code object comes with the snapshot (`makeSnapshot`; a snapshot without it fails the build).
  // Without one (a cold start) it is compiled once, by the first instance, and kept as marshal bytes:
  // compiling it cost a reset ~40% of its CPU (220-340 ms of 550-850 at load 27), unmarshalling it ~15-40 ms.
  if (options.snapshotPath) {
    await pyodide.runPythonAsync("exec(_ptc_guest, globals())\ndel _ptc_guest");
  } else {
    await runGuestFromMarshal(pyodide, options.guestSource);
  }
  // The guest setup has imported what it needs from pyodide_js; now take it away from guest code.
  pyodide.unregisterJsModule("pyodide_js");
  await pyodide.runPythonAsync("_ptc_lockdown()");
  const starter = pyodide.globals.get("_ptc_start") as StartRun & { callPromising: StartRun };
  // Calling through JSPI's promising wrapper lets guest code suspend the wasm stack (asyncio.run).
  const start: StartRun = wasmSuspending ? (...args) => starter.callPromising(...args) : starter;
  const { firstStep } = options;
  const run: RunFunction = async (code, toolsJson, resultMode, maxInputDepth, seed) => {
    let settle: (outcome: unknown) => void = () => {};
    const settled = new Promise<unknown>((resolve) => {
      settle = resolve;
    });
    let started: unknown;
    try {
      started = await firstStep(() => start(code, toolsJson, resultMode, maxInputDepth, seed, settle));
    } catch (error) {
      return interpreterFailed(error);
    }
    const outcome = started === undefined ? await settled : started;
    if (typeof outcome !== "string") throw new Error("the run ended without its outcome");
    return outcome;
  };
  // A tool result runs the tasks it wakes (child-calls.ts): through the promising wrapper too.
  const receive = pyodide.globals.get("_ptc_receive") as ReceiveResult & { callPromising: ReceiveResult };
  const receiveAll = pyodide.globals.get("_ptc_receive_all") as ReceiveResults & { callPromising: ReceiveResults };
  return {
    run,
    beginRun: pyodide.globals.get("_ptc_begin") as () => void,
    endRun: pyodide.globals.get("_end_of_run") as () => void,
    deliver: pyodide.globals.get("_ptc_deliver") as DeliverReply,
    receive: wasmSuspending ? (...args) => receive.callPromising(...args) : receive,
    receiveAll: wasmSuspending ? (batch) => receiveAll.callPromising(batch) : receiveAll,
  };
}

// Read before any guest code runs: whether this Node has JSPI (WebAssembly.Suspending).
const wasmSuspending =
  typeof (globalThis as unknown as { WebAssembly: { Suspending?: unknown } }).WebAssembly.Suspending === "function";
export const jspi: boolean = wasmSuspending;

/**
 * A reset's new instance, once the child has dropped every reference to the old one: the realm put back
 * first, so that no function the guest planted in it runs while the next instance is built; the old
 * instance collected during the build, just before the new one is made (`collectForBuild`), not when V8 next
 * needs room: then its memory can be the new instance's (child-wasm-memory.ts), or, if it grew, is freed.
 * Exits the child (the host fails the reset) when the realm cannot be put back or the build fails.
 */
export async function rebuildInstance(build: () => Promise<Instance>): Promise<Instance> {
  const unrestorable = restoreRealm();
  if (unrestorable !== null) failReset(unrestorable);
  // Callbacks the old instance queued before the reset run first (and do nothing: their generation is over).
  await new Promise((resolve) => setImmediate(resolve));
  try {
    return await build();
  } catch (error) {
    return failReset(error instanceof Error ? `${error.stack}` : "the new interpreter failed to start");
  }
}
