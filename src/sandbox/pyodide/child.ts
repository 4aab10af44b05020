// The sandbox child process. Runs under Node's permission model (and bubblewrap where present), builds
// a Pyodide instance (child-instance.ts), then runs guest code on request. A reset frame replaces the
// instance with a fresh one in the same process: nothing of the old one runs or stays reachable, and the
// JS realm the instances share is put back as it was before any guest code ran (child-realm.ts says
// exactly what is restored), or the reset fails and the host kills the process. Node runs this file
// directly (type stripping) in development and as compiled JS when installed, so it uses erasable syntax,
// node: builtins and its sibling modules only (imported with their .ts name, which the build rewrites to .js).
//
// It talks to the host in frames on stdin/stdout, one per line: their grammar, encoders and decoders,
// and the caps the host sends with each run are in bridge.ts, which the host imports too. The child keeps
// no limit of its own: each run frame carries them all.
import {
  type BridgeCaps,
  decodeHostFrame,
  encodeDoneFrame,
  encodeReadyFrame,
  type HostFrameSink,
  type RunFrame,
} from "./bridge.ts";
import { CAPS_BEFORE_FIRST_RUN } from "./child-call-checks.ts";
import {
  abandonCalls,
  beginCalls,
  callTool,
  cancelCall,
  divergedJson,
  endCalls,
  endOfHostChunk,
  firstStep,
  guestClearTimeout,
  guestSetTimeout,
  isRunning,
  markRunning,
  receiveResult,
  replayEnded,
  resetCalls,
  restartCallIds,
  schedule,
  stopScript,
  takeReply,
  wakeups,
} from "./child-calls.ts";
import { errorReport } from "./child-error-report.ts";
import { connectGuest, NO_GUEST } from "./child-guest-hooks.ts";
import { lockStackTraces, refuseSubprocesses } from "./child-hardening.ts";
import { holdIdleShrink, resumeIdleShrink, shrinkHeapWhenIdle } from "./child-heap.ts";
import {
  AFTER_RESET,
  allowFsConstants,
  hideNodeGlobals,
  type Instance,
  instanceBuilder,
  jsModule,
  jspi,
  makeSnapshot,
  rebuildInstance,
  WARM_UP,
} from "./child-instance.ts";
// The guest shares this realm and can replace what it reaches: the protocol code uses only intrinsics
// captured (by this import) before any guest code runs, and builds frames from primitives (no toJSON).
import { exit, isSafeInteger, quote, round } from "./child-intrinsics.ts";
import { memoryLimitHit, resetMemoryLimitHit, setMemoryCap } from "./child-memory-cap.ts";
import { beginOutput, droppedBytes, flushOutput, send, writeAll } from "./child-output.ts";
import { codeCacheUse } from "./child-pyodide-js.ts";
import { recordRealm } from "./child-realm.ts";
import { lastMemoryUse } from "./child-wasm-memory.ts";
import { loadQuickJS } from "./js-engine.ts";
import { JavaScriptRun } from "./js-guest.ts";
import { LineSplitter } from "./line-splitter.ts";
import { encodeSnapshotOutput } from "./snapshot-output.ts";

const hostIn = process.stdin;
const nodeVersion = process.version;
const pyodideDir = process.argv[2] ?? "";
setMemoryCap(Number(process.argv[3] ?? "0"));
// A memory snapshot of an initialised interpreter skips Python's start-up (seconds to a few hundred ms).
const snapshotPath = process.argv[4] ?? "";
const snapshotMaker = process.argv[5] === "make-snapshot";
// The JavaScript guest's engine: quickjs-emscripten-core's and its wasm variant's dist folders.
const quickJSDirs = [process.argv[6] ?? "", process.argv[7] ?? ""] as const;
// V8's code cache of Pyodide's JavaScript, made with the snapshot (child-pyodide-js.ts); "" for none.
const codeCachePath = process.argv[8] ?? "";

/** The current Pyodide instance (its guest.py functions); replaced by a reset. */
let instance: Instance | null = null;
function useInstance(built: Instance | null): void {
  instance = built;
  connectGuest(built ?? NO_GUEST);
}

const jsglobals = jsModule(wakeups, guestSetTimeout, guestClearTimeout);
const stopFromGuest = (errorJson: unknown) => stopScript(typeof errorJson === "string" ? errorJson : "");
const bridge = {
  call: callTool,
  cancel: cancelCall,
  schedule,
  stop: stopFromGuest,
  takeReply,
};
const newInstance = instanceBuilder({ pyodideDir, snapshotPath, codeCachePath, jsglobals, bridge, firstStep });

refuseSubprocesses();

allowFsConstants();

if (snapshotMaker) {
  writeAll(encodeSnapshotOutput(await makeSnapshot(pyodideDir, jsglobals)));
  exit(0);
}
const started = performance.now();
// Loaded before any guest code runs (js-engine.ts says why).
await loadQuickJS(...quickJSDirs);
useInstance(await newInstance());
// Nothing the guest can reach should lead back to process-level powers.
hideNodeGlobals();
lockStackTraces();
await runGuest({ code: WARM_UP, tools: "[]", resultMode: "json", caps: CAPS_BEFORE_FIRST_RUN }, -1);
wakeups.forgetPromises();
// The realm as every execution must find it; a reset puts it back (child-realm.ts).
recordRealm([jsglobals, bridge]);

/** Runs one script; "" or the guest's error as JSON. Never throws: the sandbox must outlive any script. */
async function runGuest(
  frame: Pick<RunFrame, "code" | "tools" | "resultMode" | "language" | "replay"> & { caps: BridgeCaps },
  seed: number,
): Promise<string> {
  const { code, tools, resultMode, caps, replay } = frame;
  const language = frame.language ?? "python";
  let errorJson: string;
  let stopped = false;
  // A JavaScript run takes the results and replies for its own QuickJS while it lasts; the Pyodide
  // instance is not touched (and needs no reset for it).
  const javascript = language === "javascript" || language === "typescript" ? new JavaScriptRun() : null;
  const stop = new Promise<string>((resolve) => {
    beginCalls(caps, replay, (stopError) => {
      stopped = true;
      javascript?.stop();
      resolve(stopError);
    });
  });
  try {
    let running: Promise<string>;
    if (javascript) {
      connectGuest(javascript.hooks);
      running = javascript.run({ code, typescript: language === "typescript", tools, resultMode, caps, seed });
    } else {
      const { run, beginRun } = instance as Instance;
      beginRun();
      running = run(code, tools, resultMode, caps.maxInputDepth, seed);
    }
    errorJson = await Promise.race([running, stop]);
    const early = stopped ? null : replayEnded();
    if (early) errorJson = divergedJson(early);
    if (stopped) {
      // Nothing the abandoned script scheduled may run again; its standard streams are put back.
      abandonCalls();
      if (!javascript) instance?.endRun();
    }
  } catch (error) {
    // The runner itself failed (it catches the script's own exceptions): report it as the run's error.
    const name = error instanceof Error ? ((error as Error & { type?: unknown }).type ?? error.name) : "Error";
    const message = "the script left the sandbox's runtime in a failed state";
    errorJson = `{"type":${quote(String(name))},"message":${quote(message)},"traceback":""}`;
  }
  if (javascript) {
    javascript.end();
    connectGuest(instance ?? NO_GUEST);
  }
  flushOutput();
  endCalls();
  return errorJson;
}

/**
 * A reset frame, between runs only (during one it is ignored: the host's reset times out and kills the
 * child). Nothing of the old instance may run again or stay reachable from here: its scheduled callbacks
 * (the generation), timers, unanswered calls, replay and guest.py functions; then ready again.
 */
async function reset(): Promise<void> {
  if (isRunning()) return;
  holdIdleShrink();
  resetCalls();
  markRunning();
  const began = performance.now();
  useInstance(null);
  useInstance(await rebuildInstance(newInstance));
  wakeups.forgetPromises();
  await runGuest({ code: AFTER_RESET, tools: "[]", resultMode: "json", caps: CAPS_BEFORE_FIRST_RUN }, -1);
  wakeups.forgetPromises();
  endCalls();
  shrinkHeapWhenIdle();
  send(encodeReadyFrame(jspi, round(performance.now() - began), nodeVersion, codeCacheUse(), lastMemoryUse()));
}

/** A count cap of the run frame: 0 (or anything not positive) means none. */
const capOf = (value: number) => (value > 0 ? value : Number.POSITIVE_INFINITY);

async function handleRun(frame: RunFrame) {
  const caps = {
    ...frame.caps,
    maxToolInputBytes: capOf(frame.caps.maxToolInputBytes),
    maxToolCalls: capOf(frame.caps.maxToolCalls),
  };
  setMemoryCap(caps.memoryBytes);
  beginOutput(caps.maxOutputBytes);
  resetMemoryLimitHit();
  const seed = isSafeInteger(frame.seed) ? (frame.seed as number) : -1;
  if (frame.restartCallIds === true) restartCallIds();
  const errorJson = await runGuest({ ...frame, caps }, seed);
  send(encodeDoneFrame(errorReport(errorJson, caps.errorReportChars), droppedBytes(), memoryLimitHit()));
  resumeIdleShrink();
}

const hostFrames: HostFrameSink = {
  run(frame) {
    if (isRunning()) return; // a second run message before this one starts is ignored
    holdIdleShrink();
    markRunning();
    void handleRun(frame);
  },
  reset() {
    void reset();
  },
  result: receiveResult,
};
const fromHost = new LineSplitter((line) => decodeHostFrame(line, hostFrames));
hostIn.setEncoding("utf8");
hostIn.on("data", (chunk: string) => {
  fromHost.push(chunk);
  endOfHostChunk();
});
// The host went away: nothing is left to serve.
hostIn.on("end", () => exit(0));

send(encodeReadyFrame(jspi, round(performance.now() - started), nodeVersion, codeCacheUse(), lastMemoryUse()));
// What the start-up left in V8's heap (the young generation's 12.8 MiB, ~2.5 MiB of dead buffers) is given
// back once the sandbox first idles, not before ready: measured, ~65 ms less wall and ~75 ms less CPU to ready.
shrinkHeapWhenIdle();
