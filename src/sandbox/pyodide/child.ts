// The sandbox child process. Runs under Node's permission model (and bubblewrap where present),
// loads Pyodide once, then runs guest code on request. Node runs this file directly (type stripping)
// in development and as compiled JS when installed, so it uses erasable syntax and node: builtins only.
//
// Wire format on stdin/stdout, one message per line:
//   host -> child  J{json}                          control message (run, set-limits)
//   host -> child  R<callId>\t<1|0><payload json>   a tool result (1) or tool error (0)
//   child -> host  J{json}                          ready, output, done, fatal
//   child -> host  C<callId>\t<name json>\t<input json>   a tool call from guest code
//   child -> host  W<results received>              the script has nothing to run until a tool call returns
// Tool payloads pass through as text so large results are parsed once, in Python.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const hostOut = process.stdout;
const hostIn = process.stdin;
const exit = process.exit.bind(process);
const nodeVersion = process.version;
const here = dirname(fileURLToPath(import.meta.url));
const pyodideDir = process.argv[2] ?? "";
let memoryCapBytes = Number(process.argv[3] ?? "0");
// A memory snapshot of an initialised interpreter skips Python's start-up (seconds to a few hundred ms).
const snapshotPath = process.argv[4] ?? "";
const makeSnapshot = process.argv[5] === "make-snapshot";
// Modules the guest runtime needs, imported before a snapshot so restoring one has them ready.
const PRELOAD = "import asyncio, json, linecache, traceback, builtins, sys, pyodide.webloop, pyodide.code, pyodide.ffi";

// Refusing wasm growth past the cap turns a memory bomb into Python's MemoryError (the process survives).
let memoryLimitHit = false;
type WasmMemory = { buffer: ArrayBuffer; grow(delta: number): number };
const wasm = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory }; Suspending?: unknown } })
  .WebAssembly;
const originalGrow = wasm.Memory.prototype.grow;
wasm.Memory.prototype.grow = function grow(this: WasmMemory, delta: number): number {
  if (memoryCapBytes > 0 && this.buffer.byteLength + delta * 65536 > memoryCapBytes) {
    memoryLimitHit = true;
    throw new RangeError("ptc: sandbox memory limit reached");
  }
  return originalGrow.call(this, delta);
};

function send(line: string): void {
  hostOut.write(`${line}\n`);
}
function sendJson(message: Record<string, unknown>): void {
  send(`J${JSON.stringify(message)}`);
}

// Output is buffered and flushed on the next macrotask or before any other message, so prints keep
// their order relative to tool calls while a tight print loop still produces few messages.
let outputCap = Number.POSITIVE_INFINITY;
const output = { stdout: "", stderr: "" };
const outputSent = { stdout: 0, stderr: 0 };
const outputDropped = { stdout: 0, stderr: 0 };
let flushScheduled = false;
function flushOutput(): void {
  flushScheduled = false;
  for (const stream of ["stdout", "stderr"] as const) {
    if (output[stream].length > 0) {
      sendJson({ t: "output", stream, data: output[stream] });
      output[stream] = "";
    }
  }
}
function makeWriter(stream: "stdout" | "stderr") {
  const decoder = new TextDecoder();
  return {
    isatty: false,
    write(buffer: Uint8Array): number {
      const room = outputCap - outputSent[stream];
      if (room <= 0) {
        outputDropped[stream] += buffer.length;
        return buffer.length;
      }
      const kept = buffer.length > room ? buffer.subarray(0, room) : buffer;
      outputDropped[stream] += buffer.length - kept.length;
      outputSent[stream] += kept.length;
      output[stream] += decoder.decode(kept, { stream: true });
      if (output[stream].length > 65536) flushOutput();
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushOutput);
      }
      return buffer.length;
    },
  };
}

// Tool calls: the guest gets a promise of the raw result line ("1<json>" or "0<json>").
let nextCallId = 1;
let maxToolInputBytes = Number.POSITIVE_INFINITY;
const waiting = new Map<number, (payload: string) => void>();
function callTool(name: unknown, input: unknown): Promise<string> {
  if (typeof name !== "string" || typeof input !== "string") {
    return Promise.resolve('0{"type":"ToolError","code":"invalid_tool_input","message":"bad bridge call"}');
  }
  if (input.length > maxToolInputBytes) {
    return Promise.resolve(
      `0${JSON.stringify({ type: "ToolError", code: "tool_input_too_large", message: `input of ${name} exceeds ${maxToolInputBytes} bytes` })}`,
    );
  }
  // A newline would split the frame; only a raw bridge call can produce one (json.dumps never does).
  if (input.includes("\n") || name.includes("\n")) {
    return Promise.resolve('0{"type":"ToolError","code":"invalid_tool_input","message":"malformed tool input"}');
  }
  flushOutput();
  const callId = nextCallId++;
  return new Promise((resolve) => {
    waiting.set(callId, resolve);
    send(`C${callId}\t${JSON.stringify(name)}\t${input}`);
  });
}

// Idle detection. Pyodide's event loop hands every Python step to `scheduleCallback` (delay 0: setImmediate,
// else setTimeout); the guest setup routes it through `schedule` below, which counts steps queued to run
// now. When none is queued and tool calls are outstanding, the script is blocked on them (or on timers):
// the host learns it at once instead of guessing from a quiet period. The count of results received lets
// the host ignore a report that crossed a result on the pipe.
const immediate = setImmediate;
let running = false;
let readySteps = 0;
let idleReported = false;
let resultsReceived = 0;
function afterStep(): void {
  if (readySteps === 0 && !idleReported) immediate(reportIdle);
}
function reportIdle(): void {
  if (readySteps > 0 || idleReported || !running || waiting.size === 0) return;
  idleReported = true;
  send(`W${resultsReceived}`);
}
function step(callback: () => unknown): () => void {
  return () => {
    idleReported = false;
    try {
      callback();
    } finally {
      afterStep();
    }
  };
}
function schedule(callback: () => unknown, delay = 0): void {
  if (typeof callback !== "function") return;
  if (delay > 2) {
    setTimeout(step(callback), delay);
    return;
  }
  readySteps++;
  const run = step(callback);
  immediate(() => {
    readySteps--;
    run();
  });
}

type PyodideApi = {
  runPythonAsync(code: string): Promise<unknown>;
  registerJsModule(name: string, module: object): void;
  unregisterJsModule(name: string): void;
  setStdout(options: object): void;
  setStderr(options: object): void;
  globals: { get(name: string): unknown };
};
type RunFunction = (code: string, toolsJson: string, resultMode: string) => Promise<string>;

async function boot(): Promise<{ run: RunFunction; jspi: boolean }> {
  const { loadPyodide } = (await import(join(pyodideDir, "pyodide.mjs"))) as {
    loadPyodide(options: object): Promise<PyodideApi>;
  };
  const jsglobals = { Object, Array, Promise, Error, JSON, Date, Math, setTimeout, clearTimeout };
  const pyodide = await loadPyodide({
    indexURL: `${pyodideDir}/`,
    jsglobals,
    env: { HOME: "/home/pyodide", PYTHONHASHSEED: "0" },
    stdout: () => {},
    stderr: () => {},
    ...(makeSnapshot ? { _makeSnapshot: true } : {}),
    ...(snapshotPath && !makeSnapshot ? { _loadSnapshot: readFileSync(snapshotPath) } : {}),
  });
  await pyodide.runPythonAsync(PRELOAD);
  if (makeSnapshot) {
    const snapshot = (pyodide as unknown as { makeMemorySnapshot(): Uint8Array }).makeMemorySnapshot();
    hostOut.write(snapshot, () => exit(0));
    return new Promise(() => {});
  }
  pyodide.setStdout(makeWriter("stdout"));
  pyodide.setStderr(makeWriter("stderr"));
  pyodide.registerJsModule("_ptc_bridge", { call: callTool, schedule });
  const guestSource = readFileSync(join(here, "guest.py"), "utf8");
  await pyodide.runPythonAsync(guestSource);
  // The guest setup has imported what it needs from pyodide_js; now take it away from guest code.
  pyodide.unregisterJsModule("pyodide_js");
  await pyodide.runPythonAsync("_ptc_lockdown()");
  const runner = pyodide.globals.get("_ptc_run") as { callPromising: RunFunction };
  // Calling through JSPI's promising wrapper lets guest code suspend the wasm stack (asyncio.run).
  const jspi = typeof wasm.Suspending === "function";
  const run: RunFunction = jspi ? (...args) => runner.callPromising(...args) : (runner as unknown as RunFunction);
  return { run, jspi };
}

// Emscripten implements C's system() with child_process.spawnSync (reachable from Python through
// os.system or ctypes). The permission model refuses it by throwing inside a wasm import, which is
// a fatal Pyodide error; answer "command failed" instead, and never inherit our stdout.
const childProcess = createRequire(import.meta.url)("node:child_process") as Record<string, unknown>;
const refusedSync = () => ({ pid: 0, output: [], stdout: "", stderr: "", status: 127, signal: null });
const refused = () => {
  throw new Error("subprocesses are disabled in the ptc sandbox");
};
for (const name of ["spawnSync", "execSync", "execFileSync"]) childProcess[name] = refusedSync;
for (const name of ["spawn", "exec", "execFile", "fork"]) childProcess[name] = refused;

// Node's permission model refuses process.binding, which Pyodide calls once at start-up for fs constants.
const processWithBinding = process as unknown as { binding: (name: string) => unknown };
const fsConstants = (await import("node:fs")).constants;
processWithBinding.binding = (name: string) => (name === "constants" ? { fs: fsConstants } : {});

const started = performance.now();
const { run, jspi } = await boot();
// Nothing the guest can reach should lead back to process-level powers.
for (const name of ["process", "fetch", "WebSocket", "EventSource", "navigator", "require", "Buffer"]) {
  Reflect.deleteProperty(globalThis, name);
}
// A throwaway workload before reporting ready, through the same path as real runs: V8 first runs
// wasm in its baseline tier and optimises hot functions in the background, which made the first
// executions in a fresh sandbox several times slower than later ones.
const WARM_UP = `
import asyncio, json
for i in range(300):
    text = json.dumps({"i": i, "s": f"item {i}", "l": [i, i * 2.5, None, True]})
    json.loads(text)["l"].append(str(i))
    try:
        compile(f"x = {i}", "w.py", "exec")
        raise ValueError(i)
    except ValueError:
        pass
    if i % 50 == 0:
        await asyncio.sleep(0)
`;
await run(WARM_UP, "[]", "json");

async function handleRun(message: {
  code: string;
  tools: string;
  resultMode: string;
  maxOutputBytes: number;
  memoryBytes: number;
  maxToolInputBytes: number;
}) {
  running = true;
  maxToolInputBytes = message.maxToolInputBytes > 0 ? message.maxToolInputBytes : Number.POSITIVE_INFINITY;
  if (message.memoryBytes > 0) memoryCapBytes = message.memoryBytes;
  outputCap = message.maxOutputBytes > 0 ? message.maxOutputBytes : Number.POSITIVE_INFINITY;
  outputSent.stdout = outputSent.stderr = 0;
  outputDropped.stdout = outputDropped.stderr = 0;
  memoryLimitHit = false;
  resultsReceived = 0;
  idleReported = false;
  const errorJson = await run(message.code, message.tools, message.resultMode);
  flushOutput();
  running = false;
  sendJson({
    t: "done",
    error: errorJson === "" ? null : JSON.parse(errorJson),
    dropped: { ...outputDropped },
    memoryLimitHit,
  });
}

let pending = "";
hostIn.setEncoding("utf8");
hostIn.on("data", (chunk: string) => {
  let start = 0;
  let newline = chunk.indexOf("\n");
  if (newline === -1) {
    pending += chunk;
    return;
  }
  while (newline !== -1) {
    const line = start === 0 && pending.length > 0 ? pending + chunk.slice(0, newline) : chunk.slice(start, newline);
    if (start === 0) pending = "";
    dispatch(line);
    start = newline + 1;
    newline = chunk.indexOf("\n", start);
  }
  pending = chunk.slice(start);
});
// The host went away: nothing is left to serve.
hostIn.on("end", () => exit(0));

function dispatch(line: string): void {
  if (line.startsWith("R")) {
    const tab = line.indexOf("\t");
    const callId = Number(line.slice(1, tab));
    const resolve = waiting.get(callId);
    resultsReceived++;
    if (resolve) {
      waiting.delete(callId);
      resolve(line.slice(tab + 1));
    }
    return;
  }
  if (line.startsWith("J")) {
    const message = JSON.parse(line.slice(1)) as { t: string } & Record<string, unknown>;
    if (message.t === "run" && !running) void handleRun(message as never);
  }
}

sendJson({ t: "ready", jspi, bootMs: Math.round(performance.now() - started), node: nodeVersion });
