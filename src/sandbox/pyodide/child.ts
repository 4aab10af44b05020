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
  BUSY_FRAME,
  decodeHostFrame,
  encodeCallFrame,
  encodeCancelFrame,
  encodeDoneFrame,
  encodeIdleFrame,
  encodeReadyFrame,
  encodeToolError,
  type HostFrameSink,
  RefusalCode,
  type RunFrame,
} from "./bridge.ts";
import { CAPS_BEFORE_FIRST_RUN, refuseCall } from "./child-call-checks.ts";
import { errorReport } from "./child-error-report.ts";
import { lockStackTraces, refuseSubprocesses } from "./child-hardening.ts";
import {
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
import { dropWaiting, exit, hasWaiting, isSafeInteger, quote, round } from "./child-intrinsics.ts";
import { memoryLimitHit, resetMemoryLimitHit, setMemoryCap } from "./child-memory-cap.ts";
import { beginOutput, droppedBytes, flushOutput, send, writeAll } from "./child-output.ts";
import { recordRealm } from "./child-realm.ts";
import { ChildReplay } from "./child-replay.ts";
import { TimerSet } from "./child-timers.ts";
import { Wakeups } from "./child-wakeups.ts";
import { LineSplitter } from "./line-splitter.ts";

const hostIn = process.stdin;
const nodeVersion = process.version;
const pyodideDir = process.argv[2] ?? "";
setMemoryCap(Number(process.argv[3] ?? "0"));
// A memory snapshot of an initialised interpreter skips Python's start-up (seconds to a few hundred ms).
const snapshotPath = process.argv[4] ?? "";
const snapshotMaker = process.argv[5] === "make-snapshot";

// Tool calls: the guest gets a promise of the raw result line ("1<json>" or "0<json>"), or, for a call a
// replay answers from its journal, the call's id: the stub then waits on a Python future that
// `deliverReply` resolves. Awaiting a JS promise from Python cost ~20 µs a call (a future, two once-callable
// proxies, a `then`, a microtask); the future costs ~2 µs.
let nextCallId = 1;
/** The current run's caps (from its run frame). */
let caps: BridgeCaps = CAPS_BEFORE_FIRST_RUN;
let callsThisRun = 0;
/** Ends the current run at once with this error as JSON ("" for success), abandoning the script where it is. */
let stopRun: ((errorJson: string) => void) | null = null;
const waiting = new Map<number, (payload: string) => void>();
function refusal(code: string, message: string): Promise<string> {
  return Promise.resolve(`0${encodeToolError("ToolError", code, message)}`);
}
function callTool(name: unknown, input: unknown): Promise<string> | number {
  if (typeof name !== "string" || typeof input !== "string") {
    return refusal(RefusalCode.InvalidToolInput, "bad bridge call");
  }
  // Nothing outside a run may reach the host: it would take the frame for a broken child.
  if (!running) return refusal(RefusalCode.Cancelled, "the execution that made this call has ended");
  const refused = refuseCall(name, input, caps, ++callsThisRun);
  if (refused) {
    if (refused.stop !== undefined) {
      stopRun?.(`{"type":"ToolError","code":"${refused.code}","message":${quote(refused.stop)},"traceback":""}`);
    }
    return refusal(refused.code, refused.message);
  }
  flushOutput();
  const callId = nextCallId++;
  lastCallId = callId;
  if (replay) {
    const answer = replay.call(callId, name, input);
    if (answer.kind === "journal") return callId;
    if (answer.kind === "diverged") {
      diverge(answer.why);
      return new Promise(() => {});
    }
  }
  return new Promise((resolve) => {
    waiting.set(callId, resolve);
    send(encodeCallFrame(callId, name, input));
  });
}

/**
 * The id of the call `callTool` just sent (0 after a refusal): read by the stub right after the call, so
 * that it can name the call if its task is cancelled. (A promise returned to Python arrives as a Python
 * future, so the promise itself cannot name it.)
 */
let lastCallId = 0;

/** The current run's replay (a journaled execution running again), or null. */
let replay: ChildReplay | null = null;
/** The current Pyodide instance (its guest.py functions); replaced by a reset. */
let instance: Instance | null = null;
function deliverReply(callId: number, reply: string): void {
  try {
    instance?.deliver(callId, reply);
  } catch {
    // The guest broke its own runtime; the call stays unanswered and the run ends as diverged at its next idle.
  }
}
/** Ends the run as diverged from its journal: the host marks the container lost. */
function diverge(why: string): void {
  stopRun?.(divergedJson(why));
}
function divergedJson(why: string): string {
  return `{"type":"ReplayDivergedError","code":"${RefusalCode.ReplayDiverged}","message":${quote(`replay diverged: ${why}`)},"traceback":""}`;
}
function takeLastCallId(): number {
  const callId = lastCallId;
  lastCallId = 0;
  return callId;
}

/**
 * The guest cancelled the task awaiting a call (asyncio.wait_for, task.cancel, a TaskGroup): the host
 * stops the work (aborts the handler, withdraws a pending call). Only a call of this run still waiting;
 * the host checks the id again against its own live calls.
 */
function cancelCall(callId: unknown): void {
  if (typeof callId !== "number" || !running || replay?.cancel(callId)) return;
  if (!hasWaiting(waiting, callId)) return;
  dropWaiting(waiting, callId);
  send(encodeCancelFrame(callId));
}

// Idle detection. Pyodide's event loop hands every Python step to `scheduleCallback` (delay 0: setImmediate,
// else setTimeout); the guest setup routes it through `schedule` below, which counts steps queued to run
// now. When none is queued and tool calls are outstanding, the script is blocked on them (or on timers):
// the host learns it at once instead of guessing from a quiet period. The count of results received lets
// the host ignore a report that crossed a result on the pipe.
const immediate = setImmediate;
// Start-up counts as a run: it runs Python through the same scheduler.
let running = true;
let readySteps = 0;
let idleReported = false;
let resultsReceived = 0;
/** Timers set and not fired yet: while one is, an idle replay may still be waiting for it. */
let timersPending = 0;
function afterStep(): void {
  if (readySteps === 0 && !idleReported) immediate(reportIdle);
}
function reportIdle(): void {
  if (readySteps > 0 || idleReported || !running) return;
  if (replay) {
    // Idle is when a journaled result may come in, as a host's result reaches a paused script.
    if (replay.deliverNext()) return;
    if (replay.waiting > 0 && waiting.size === 0 && timersPending === 0) {
      diverge("the script waits for journaled calls in an order other than the recorded one");
      return;
    }
  }
  if (waiting.size === 0) return;
  idleReported = true;
  send(encodeIdleFrame(resultsReceived));
}
/** A timer woke the script after it was reported idle: the host must not take it for paused any more. */
function wake(): void {
  if (!idleReported || !running) return;
  idleReported = false;
  send(BUSY_FRAME);
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
const wakeups = new Wakeups();
/** The run was stopped (an error, a divergence): its script must not go on inside a drain. */
let halted = false;
/**
 * Asked by guest.py's drain when the script has nothing ready to run and waits on journaled calls: the next
 * recorded reply as `<callId> <reply>`, when nothing else can wake the script before it (no other Python
 * callback scheduled or running, no timer, no live call), or "" (the idle detection delivers it later).
 * Delivering it here, inside the drain, spares the two event-loop turns and the JS -> Python call of a
 * delivery through `reportIdle` (~35 of ~60 µs a replayed call).
 */
function takeReply(): string {
  if (!replay || !running || halted || waiting.size !== 0) return "";
  if (wakeups.pythonPending !== 1 || wakeups.guestMadePromises) return "";
  return replay.takeNext();
}
// Each run has a generation; a callback scheduled by one run never fires after it: a task or timer the
// script left behind would otherwise keep running (and burning CPU) between executions, outside every limit.
let generation = 0;
function current(callback: () => unknown): () => void {
  const scheduledIn = generation;
  return () => {
    if (running && scheduledIn === generation) callback();
  };
}
function schedule(callback: () => unknown, delay = 0): void {
  if (typeof callback !== "function") return;
  if (delay > 2) {
    const run = step(current(wakeups.counted(callback)));
    timersPending++;
    schedulerTimers.set(() => {
      timersPending--;
      wake();
      run();
    }, delay);
    return;
  }
  readySteps++;
  const run = step(current(wakeups.counted(callback)));
  immediate(() => {
    readySteps--;
    run();
  });
}

// Each instance's timers (asyncio's, the guest's js.setTimeout): a reset cancels them all.
const schedulerTimers = new TimerSet();
const guestTimers = new TimerSet();
// setTimeout reaches guest code as `js.setTimeout`: its callbacks, too, end with the run.
function guestSetTimeout(callback: unknown, delay?: unknown): number {
  const run = typeof callback === "function" ? current(wakeups.counted(callback as () => unknown)) : () => {};
  timersPending++;
  return guestTimers.set(() => {
    timersPending--;
    wake();
    run();
  }, delay);
}
function guestClearTimeout(id: unknown): void {
  if (guestTimers.clear(id)) timersPending--;
}
const jsglobals = jsModule(wakeups, guestSetTimeout, guestClearTimeout);
const stopFromGuest = (errorJson: unknown) => stopRun?.(typeof errorJson === "string" ? errorJson : "");
const bridge = {
  call: callTool,
  lastCall: takeLastCallId,
  cancel: cancelCall,
  schedule,
  stop: stopFromGuest,
  takeReply,
};
const newInstance = instanceBuilder({ pyodideDir, snapshotPath, jsglobals, bridge });

refuseSubprocesses();

allowFsConstants();

if (snapshotMaker) {
  writeAll(await makeSnapshot(pyodideDir, jsglobals));
  exit(0);
}
const started = performance.now();
instance = await newInstance();
// Nothing the guest can reach should lead back to process-level powers.
hideNodeGlobals();
lockStackTraces();
await runGuest(WARM_UP, "[]", "json", 0, -1);
wakeups.forgetPromises();
// The realm as every execution must find it; a reset puts it back (child-realm.ts).
recordRealm([jsglobals, bridge]);

/** Runs one script; "" or the guest's error as JSON. Never throws: the sandbox must outlive any script. */
async function runGuest(
  code: string,
  tools: string,
  resultMode: string,
  maxInputDepth: number,
  seed: number,
): Promise<string> {
  running = true;
  generation++;
  wakeups.newRun();
  halted = false;
  callsThisRun = 0;
  resultsReceived = 0;
  idleReported = false;
  let errorJson: string;
  let stopped = false;
  const stop = new Promise<string>((resolve) => {
    stopRun = (stopError) => {
      stopped = true;
      halted = true;
      resolve(stopError);
    };
  });
  try {
    const { run, beginRun } = instance as Instance;
    beginRun();
    errorJson = await Promise.race([run(code, tools, resultMode, maxInputDepth, seed), stop]);
    const early = stopped ? null : replay?.atEnd();
    if (early) errorJson = divergedJson(early);
    if (stopped) {
      // Nothing the abandoned script scheduled may run again; its standard streams are put back.
      generation++;
      wakeups.newRun();
      instance?.endRun();
    }
  } catch (error) {
    // The runner itself failed (it catches the script's own exceptions): report it as the run's error.
    const name = error instanceof Error ? ((error as Error & { type?: unknown }).type ?? error.name) : "Error";
    const message = "the script left the sandbox's runtime in a failed state";
    errorJson = `{"type":${quote(String(name))},"message":${quote(message)},"traceback":""}`;
  }
  stopRun = null;
  flushOutput();
  running = false;
  // Calls still unanswered belong to the run that made them; their results never come.
  waiting.clear();
  return errorJson;
}

/**
 * A reset frame, between runs only (during one it is ignored: the host's reset times out and kills the
 * child). Nothing of the old instance may run again or stay reachable from here: its scheduled callbacks
 * (the generation), timers, unanswered calls, replay and guest.py functions; then ready again.
 */
async function reset(): Promise<void> {
  if (running) return;
  running = true;
  const began = performance.now();
  generation++;
  wakeups.newRun();
  schedulerTimers.clearAll();
  guestTimers.clearAll();
  timersPending = 0;
  waiting.clear();
  replay = null;
  stopRun = null;
  instance = null;
  instance = await rebuildInstance(newInstance);
  wakeups.forgetPromises();
  running = false;
  send(encodeReadyFrame(jspi, round(performance.now() - began), nodeVersion));
}

/** A count cap of the run frame: 0 (or anything not positive) means none. */
const capOf = (value: number) => (value > 0 ? value : Number.POSITIVE_INFINITY);

async function handleRun(frame: RunFrame) {
  caps = {
    ...frame.caps,
    maxToolInputBytes: capOf(frame.caps.maxToolInputBytes),
    maxToolCalls: capOf(frame.caps.maxToolCalls),
  };
  setMemoryCap(caps.memoryBytes);
  beginOutput(caps.maxOutputBytes);
  resetMemoryLimitHit();
  replay = frame.replay ? new ChildReplay(frame.replay, deliverReply) : null;
  const seed = isSafeInteger(frame.seed) ? (frame.seed as number) : -1;
  const errorJson = await runGuest(frame.code, frame.tools, frame.resultMode, caps.maxInputDepth, seed);
  replay = null;
  send(encodeDoneFrame(errorReport(errorJson, caps.errorReportChars), droppedBytes(), memoryLimitHit()));
}

const hostFrames: HostFrameSink = {
  run(frame) {
    if (running) return; // a second run message before this one starts is ignored
    running = true;
    void handleRun(frame);
  },
  reset() {
    void reset();
  },
  result(callId, payload) {
    const resolve = waiting.get(callId);
    resultsReceived++;
    if (resolve) {
      waiting.delete(callId);
      resolve(payload);
    }
  },
};
const fromHost = new LineSplitter((line) => decodeHostFrame(line, hostFrames));
hostIn.setEncoding("utf8");
hostIn.on("data", (chunk: string) => fromHost.push(chunk));
// The host went away: nothing is left to serve.
hostIn.on("end", () => exit(0));

send(encodeReadyFrame(jspi, round(performance.now() - started), nodeVersion));
