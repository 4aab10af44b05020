// The sandbox child's side of a tool call: the guest's call becomes a frame to the host, the host's result
// goes to the Python future the guest's stub awaits, and the host learns when the script is idle (blocked on
// calls or timers). Part of the child (see bridge.ts): erasable syntax, sibling modules only, and only
// intrinsics captured before guest code runs (child-intrinsics.ts).
//
// One crossing each way per sequential call (issue 14; CPU per call of the bare child's main thread, measured
// with `bench/profile-call.ts calls`, in BENCHMARKS.md):
// - the call frame is queued and goes out in one write(2) with the idle report that follows it when the turn
//   ends, rather than a write each (the host was woken twice per call);
// - the stub awaits a plain Python future, resolved by guest_calls.py's `_ptc_receive` (awaiting a JS promise cost
//   ~20 µs a call: a future, two once-callable proxies, a `then`, a microtask);
// - the result runs the tasks it woke in the same call into Python, while the host's chunk is being read,
//   rather than through a drain scheduled on the event loop (`setImmediate`, a once-callable proxy, a second
//   JS -> Python call).
import {
  type BridgeCaps,
  BUSY_FRAME,
  encodeCallFrame,
  encodeCancelFrame,
  encodeIdleFrame,
  encodeToolError,
  RefusalCode,
  type ReplayFrame,
} from "./bridge.ts";
import { CAPS_BEFORE_FIRST_RUN, refuseCall } from "./child-call-checks.ts";
import { connectGuest, guest, NO_GUEST } from "./child-guest-hooks.ts";
import {
  clearWaiting,
  dropWaiting,
  getWaiting,
  promiseThen,
  putWaiting,
  quote,
  setAdd,
  setClear,
  setDelete,
} from "./child-intrinsics.ts";
import { flushOutput, flushQueued, hasQueued, queue, send } from "./child-output.ts";
import { ChildReplay } from "./child-replay.ts";
import { TimerSet } from "./child-timers.ts";
import { Wakeups } from "./child-wakeups.ts";

let nextCallId = 1;
/** A container's first run in this process numbers its calls from 1, as a new process would (bridge.ts). */
export function restartCallIds(): void {
  nextCallId = 1;
}
/** The current run's caps (from its run frame). */
let caps: BridgeCaps = CAPS_BEFORE_FIRST_RUN;
let callsThisRun = 0;
/** Ends the current run at once with this error as JSON ("" for success), abandoning the script where it is. */
let stopRun: ((errorJson: string) => void) | null = null;
/** The run was stopped (an error, a divergence): its script must not go on inside a drain. */
let halted = false;
/** Live calls sent to the host and not answered (a Set through captured methods: the guest shares the realm). */
const waiting = new Set<number>();
let waitingCount = 0;
/** The current run's replay (a journaled execution running again), or null. */
let replay: ChildReplay | null = null;
// Start-up counts as a run: it runs Python through the same scheduler.
let running = true;

export function isRunning(): boolean {
  return running;
}
export function markRunning(): void {
  running = true;
}

function refusal(code: string, message: string): Promise<string> {
  return Promise.resolve(`0${encodeToolError("ToolError", code, message)}`);
}

/**
 * The guest's stub calls this: a positive call id (sent to the host: `_ptc_receive` resolves it), its
 * negative (a replay answers it from its journal: `_ptc_deliver` does), or a promise of a refusal (the
 * rare path keeps the promise: awaiting it yields to the event loop, so a script retrying a refused call
 * in a loop can still be stopped).
 */
export function callTool(name: unknown, input: unknown, toFuture?: unknown): Promise<string> | number {
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
  if (replay) {
    const answer = replay.call(callId, name, input);
    if (answer.kind === "journal") return -callId;
    if (answer.kind === "diverged") {
      diverge(answer.why);
      return new Promise(() => {});
    }
  }
  setAdd(waiting, callId);
  waitingCount++;
  queueOrSend(encodeCallFrame(callId, name, input));
  if (toFuture === true) return callId;
  // A raw bridge call from guest code (not the stub's): a promise of the reply line, as it always was.
  return new Promise((resolve) => {
    putWaiting(rawCalls, callId, resolve);
  });
}
/** Raw bridge calls waiting for their reply (guest code only reaches them by importing the bridge). */
const rawCalls = new Map<number, (reply: string) => void>();

function deliverReply(callId: number, reply: string): void {
  try {
    guest.deliver(callId, reply);
  } catch {
    // The guest broke its own runtime; the call stays unanswered and the run ends as diverged at its next idle.
  }
}
/** Ends the run as diverged from its journal: the host marks the container lost. */
function diverge(why: string): void {
  stopRun?.(divergedJson(why));
}
export function divergedJson(why: string): string {
  return `{"type":"ReplayDivergedError","code":"${RefusalCode.ReplayDiverged}","message":${quote(`replay diverged: ${why}`)},"traceback":""}`;
}

/**
 * The guest cancelled the task awaiting a call (asyncio.wait_for, task.cancel, a TaskGroup): the host
 * stops the work (aborts the handler, withdraws a pending call). Only a call of this run still waiting;
 * the host checks the id again against its own live calls.
 */
export function cancelCall(callId: unknown): void {
  if (typeof callId !== "number" || !running || replay?.cancel(callId)) return;
  if (!setDelete(waiting, callId)) return;
  waitingCount--;
  queueOrSend(encodeCancelFrame(callId));
}

// Idle detection. Pyodide's event loop hands every Python step to `scheduleCallback` (delay 0: setImmediate,
// else setTimeout); the guest setup routes it through `schedule` below, which counts steps queued to run
// now. When none is queued and tool calls are outstanding, the script is blocked on them (or on timers):
// the host learns it at once instead of guessing from a quiet period. The count of results received lets
// the host ignore a report that crossed a result on the pipe. The check waits for a `setImmediate`, after
// the microtasks a step leaves behind (Pyodide settles a step's promise, and resumes a suspended stack, in
// them), and the frames the steps queued go out with its report.
const immediate = setImmediate;
let readySteps = 0;
let idleReported = false;
let idleCheckArmed = false;
let resultsReceived = 0;
/**
 * Steps started and not finished: frames made meanwhile are queued for the write at a step's end. Pyodide runs
 * a step's Python in a microtask after the step is called (`callPromising`), and a step that suspends (JSPI,
 * asyncio.run) stays unfinished while the steps it waits on run: a step's end is when its promise settles.
 */
let stepping = 0;
/** Timers set and not fired yet: while one is, an idle replay may still be waiting for it. */
let timersPending = 0;
function afterStep(): void {
  stepping--;
  // Another step runs next: the host can start on the calls meanwhile.
  if (readySteps > 0) flushQueued();
  // Already reported (a suspended step's promise settles late) and nothing to write: no check to make.
  else if (!idleReported || hasQueued()) armIdleCheck();
}
function armIdleCheck(): void {
  if (idleCheckArmed) return;
  idleCheckArmed = true;
  immediate(reportIdle);
}
/** A frame made while a step runs waits for its end (or the idle check, whichever writes first). */
function queueOrSend(frame: string): void {
  if (stepping === 0) send(frame);
  else {
    queue(frame);
    armIdleCheck();
  }
}
function reportIdle(): void {
  idleCheckArmed = false;
  if (readySteps === 0 && !idleReported && running && !replayDelivered() && waitingCount > 0) {
    idleReported = true;
    send(encodeIdleFrame(resultsReceived));
  } else flushQueued();
}
/** For an idle replay: delivers the next journaled reply (true), or ends the run if the script waits out of order. */
function replayDelivered(): boolean {
  if (!replay) return false;
  // Idle is when a journaled result may come in, as a host's result reaches a paused script.
  if (replay.deliverNext()) return true;
  if (replay.waiting > 0 && waitingCount === 0 && timersPending === 0) {
    diverge("the script waits for journaled calls in an order other than the recorded one");
    return true;
  }
  return false;
}
/** A timer woke the script after it was reported idle: the host must not take it for paused any more. */
function wake(): void {
  if (!idleReported || !running) return;
  idleReported = false;
  send(BUSY_FRAME);
}
function step(callback: () => unknown): () => unknown {
  return () => {
    idleReported = false;
    stepping++;
    let result: unknown;
    try {
      result = callback();
    } catch (error) {
      afterStep();
      throw error;
    }
    if (typeof result !== "object" || result === null) afterStep();
    else {
      try {
        // A rejection stays unhandled through `wakeups.counted` (it ends the child), not through this.
        promiseThen(result, afterStep, afterStep);
      } catch {
        afterStep();
      }
    }
    return result;
  };
}
/**
 * A run's first step, which the run frame takes at once (guest.py `_ptc_start`) rather than scheduling it:
 * counted and framed as a scheduled step is, so that the calls it makes go out at its end with the idle
 * report that follows them. Returns what `call` returns.
 */
export function firstStep(call: () => unknown): unknown {
  return step(wakeups.counted(call))();
}
export const wakeups = new Wakeups();
/**
 * Asked by guest_loop.py's `_drain` when the script has nothing ready to run and waits on journaled calls: the next
 * recorded reply as `<callId> <reply>`, when nothing else can wake the script before it (no other Python
 * callback scheduled or running, no timer, no live call), or "" (the idle detection delivers it later).
 * Delivering it here, inside the drain, spares the two event-loop turns and the JS -> Python call of a
 * delivery through `reportIdle` (~35 of ~60 µs a replayed call).
 */
export function takeReply(): string {
  if (!replay || !running || halted || waitingCount !== 0) return "";
  if (wakeups.pythonPending !== 1 || wakeups.guestMadePromises) return "";
  return replay.takeNext();
}
// Each run has a generation; a callback scheduled by one run never fires after it: a task or timer the
// script left behind would otherwise keep running (and burning CPU) between executions, outside every limit.
let generation = 0;
function current(callback: () => unknown): () => unknown {
  const scheduledIn = generation;
  return () => (running && scheduledIn === generation ? callback() : undefined);
}
export function schedule(callback: () => unknown, delay = 0): void {
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
/** `setTimeout` as guest code reaches it (`js.setTimeout`): its callbacks, too, end with the run. */
export function guestSetTimeout(callback: unknown, delay?: unknown): number {
  const run = typeof callback === "function" ? current(wakeups.counted(callback as () => unknown)) : () => {};
  timersPending++;
  return guestTimers.set(() => {
    timersPending--;
    wake();
    run();
  }, delay);
}
export function guestClearTimeout(id: unknown): void {
  if (guestTimers.clear(id)) timersPending--;
}

// A host chunk's results are handed to Python when the chunk has been read, in one call that also runs the
// tasks they woke: a gather's results come in a few chunks of hundreds (a JS -> Python call each cost ~8 µs).
let heldCallId = 0;
let heldReply = "";
/** Two results or more: `<callId> <reply>` lines (a reply is JSON text, without a raw newline). */
let heldBatch = "";
/** The host's result for call `callId` (`payload`: `1<json>` or `0<json>`). */
export function receiveResult(callId: number, payload: string): void {
  resultsReceived++;
  if (!running || !setDelete(waiting, callId)) return;
  waitingCount--;
  const raw = getWaiting(rawCalls, callId);
  if (raw) {
    dropWaiting(rawCalls, callId);
    raw(payload);
  } else if (heldCallId === 0 && heldBatch === "") {
    heldCallId = callId;
    heldReply = payload;
  } else {
    if (heldBatch === "") heldBatch = `${heldCallId} ${heldReply}`;
    heldBatch = `${heldBatch}\n${callId} ${payload}`;
    heldCallId = 0;
    heldReply = "";
  }
}
/** The host's chunk is read: the results it held go to Python, and the tasks they woke run now. */
export function endOfHostChunk(): void {
  if (heldCallId === 0 && heldBatch === "") return;
  const callId = heldCallId;
  const reply = heldReply;
  const batch = heldBatch;
  heldCallId = 0;
  heldReply = heldBatch = "";
  // Not caught: a fatal Pyodide error must end the child (the host reports the sandbox's death), as in a step.
  const handOver = batch === "" ? () => guest.receive(callId, reply) : () => guest.receiveAll(batch);
  step(current(wakeups.counted(handOver)))();
}

/** Ends the current run at once with this error as JSON ("" for success): guest.py's `_stop_run`, the call limit, a divergence. */
export function stopScript(errorJson: string): void {
  stopRun?.(errorJson);
}

/** A run frame's script starts: `stop` ends it early. */
export function beginCalls(
  runCaps: BridgeCaps,
  replayFrame: ReplayFrame | undefined,
  stop: (errorJson: string) => void,
): void {
  caps = runCaps;
  replay = replayFrame ? new ChildReplay(replayFrame, deliverReply) : null;
  running = true;
  generation++;
  wakeups.newRun();
  halted = false;
  callsThisRun = 0;
  resultsReceived = 0;
  idleReported = false;
  stopRun = (errorJson) => {
    halted = true;
    stop(errorJson);
  };
}
/** The stopped script's callbacks never run again. */
export function abandonCalls(): void {
  generation++;
  wakeups.newRun();
}
/** Why the replay diverged by ending early (the script ended before its journal did), or null. */
export function replayEnded(): string | null {
  return replay?.atEnd() ?? null;
}
/**
 * A reset (between runs): nothing of the old instance may run again, its scheduled callbacks (the
 * generation), timers, unanswered calls, replay and guest.py functions.
 */
export function resetCalls(): void {
  abandonCalls();
  schedulerTimers.clearAll();
  guestTimers.clearAll();
  timersPending = 0;
  endCalls();
  connectGuest(NO_GUEST);
}
/** The run is over: calls still unanswered belong to it; their results never come. */
export function endCalls(): void {
  stopRun = null;
  running = false;
  replay = null;
  setClear(waiting);
  waitingCount = 0;
  clearWaiting(rawCalls);
  heldCallId = 0;
  heldReply = heldBatch = "";
}
