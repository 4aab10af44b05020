// The JavaScript section of `npm run bench` (also alone: `npm run bench -- javascript`): ptc's JavaScript
// guest (sandbox start, warm starts, sequential calls, Promise.all, memory per sandbox) beside its
// yardsticks (in-process QuickJS, @ai-sdk/code-mode, Executor's QuickJS runtime) and, in a full run, the
// Python guest; the floor of one process crossing per call; then issue 15's target, per call within 2× of
// in-process QuickJS.
import type { Engine } from "../src/engine/engine.js";
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import {
  benchEngine,
  gatheredCalls,
  JAVASCRIPT_SCRIPTS,
  sandboxMemoryAfterRuns,
  sequentialCalls,
  warmStarts,
} from "./engine-cases.js";
import { javascriptYardsticks } from "./javascript-cases.js";
import { type Comparison, checkRatio, compare, type TargetCheck, total } from "./report.js";
import { javascriptColdStarts, pipeRoundTrip } from "./sandbox-cases.js";
import type { Measurement } from "./stats.js";

export interface SectionResult {
  rows: Measurement[];
  comparisons: Comparison[];
  targets: TargetCheck[];
}

export interface JavaScriptSectionOptions {
  calls: number;
  gatherCalls: number;
  repeats: number;
  progress: (step: string) => void;
  /** Collects every engine started, for the caller to close if a case throws. */
  engines: Engine[];
}

const TARGET_LABEL = "JavaScript per call (host wall), vs in-process QuickJS";

export async function javascriptSection(
  runtime: SandboxRuntime,
  options: JavaScriptSectionOptions,
): Promise<SectionResult> {
  const { calls, gatherCalls, repeats, progress, engines } = options;
  const scripts = JAVASCRIPT_SCRIPTS;
  const rows: Measurement[] = [];
  progress("JavaScript guest: sandbox starts");
  rows.push(...(await javascriptColdStarts(runtime, 8)));
  const engine = benchEngine(2);
  engines.push(engine);
  progress("JavaScript guest: warm starts");
  rows.push(...(await warmStarts(engine, 30, scripts)));
  progress("JavaScript guest: sequential tool calls");
  rows.push(...(await sequentialCalls(engine, calls, repeats, scripts)));
  progress("JavaScript guest: Promise.all of tool calls");
  rows.push(...(await gatheredCalls(engine, gatherCalls, repeats, scripts)));
  progress("JavaScript guest: memory per sandbox");
  rows.push(...(await sandboxMemoryAfterRuns(engine, 4, scripts)));
  await engine.close();

  // Last, each in a process of its own: nothing of theirs is loaded in this one while ptc's cases run.
  progress("JavaScript yardsticks: in-process QuickJS, Executor, @ai-sdk/code-mode");
  rows.push(...(await javascriptYardsticks(runtime, calls, gatherCalls, repeats)));
  // The floor of any design that crosses the process boundary once per sequential call: the cheapest
  // round trip a child can make (spinning on a non-blocking read, no event loop, never asleep) plus
  // in-process QuickJS's own call. The blocked child's round trip is printed beside it.
  progress("JavaScript: the per-call floor of a child process");
  rows.push(...(await pipeRoundTrip(runtime, calls, repeats, "blocking")));
  rows.push(...(await pipeRoundTrip(runtime, calls, repeats, "spinning")));
  const floor = total(
    rows,
    "jsPerCallFloor",
    "JavaScript per call, floor with a process boundary (spinning round trip + in-process QuickJS)",
    "pipeSpinningRoundTrip",
    "quickjsSandboxNodePerCall",
  );
  if (floor) rows.push(floor);

  const inProcess = "in-process QuickJS";
  const gather = `JavaScript Promise.all of ${gatherCalls}, cap ${gatherCalls}`;
  const comparisons = [
    compare(rows, TARGET_LABEL, "jsPerCallWall", "quickjsSandboxNodePerCall", inProcess),
    compare(rows, `${TARGET_LABEL} on the host's Node`, "jsPerCallWall", "quickjsHostPerCall", inProcess),
    compare(rows, "JavaScript per call, vs Executor", "jsPerCallWall", "executorPerCall", "Executor"),
    compare(rows, "JavaScript per call, vs code-mode", "jsPerCallWall", "codeModePerCall", "code-mode"),
    compare(rows, "JavaScript per call, vs the Python guest", "jsPerCallWall", "perCallWall", "Python guest"),
    compare(rows, `${gather}, vs in-process QuickJS`, "jsGatherUncapped", "quickjsSandboxNodeGather", inProcess),
    compare(rows, `${gather}, vs Executor`, "jsGatherUncapped", "executorGather", "Executor"),
    compare(rows, `${gather}, vs code-mode`, "jsGatherUncapped", "codeModeGather", "code-mode"),
    compare(rows, "JavaScript warm start (one-off), vs Python's", "jsWarmStartOneOff", "warmStartOneOff", "Python"),
    compare(rows, "memory per sandbox after JavaScript runs (PSS)", "jsSandboxPss", "sandboxPss", "a warm sandbox"),
    compare(
      rows,
      "JavaScript per-call floor with a process boundary, vs in-process QuickJS",
      "jsPerCallFloor",
      "quickjsSandboxNodePerCall",
      inProcess,
    ),
    compare(rows, "JavaScript per call, vs that floor", "jsPerCallWall", "jsPerCallFloor", "the floor"),
    compare(rows, "Executor per call", "executorPerCall", "quickjsSandboxNodePerCall", inProcess),
    compare(rows, "code-mode per call", "codeModePerCall", "quickjsSandboxNodePerCall", inProcess),
  ].filter((each) => each !== null);
  // Issue 15's target: QuickJS on the sandbox's Node in this process is the same engine and Node as ptc's
  // guest minus the process boundary (the per-call figures on the host's Node are printed beside it).
  const targets = [checkRatio(comparisons, TARGET_LABEL, 2)].filter((each) => each !== null);
  return { rows, comparisons, targets };
}
