// The Python section of `npm run bench` (`npm run bench -- python` alone): ptc's Python guest's start-up,
// tool-call and memory costs, with an in-process Pyodide yardstick measured in the same run, and issue 14's
// targets.
import type { Engine } from "../src/engine/engine.js";
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { burst } from "./burst-cases.js";
import { benchEngine, gatheredCalls, sequentialCalls, warmStarts } from "./engine-cases.js";
import { inProcessBaseline, inProcessOnSandboxNode } from "./in-process-baseline.js";
import type { SectionResult } from "./javascript-section.js";
import { checkRatio, checkTarget, compare, difference } from "./report.js";
import { bareBridge, coldStarts, pipeRoundTrip, sandboxResets, warmSandboxMemory } from "./sandbox-cases.js";
import { sourceCalls } from "./source-cases.js";
import type { Measurement } from "./stats.js";

const CALLS = 10_000;
const GATHER_CALLS = 1_000;
const SOURCE_CALLS = 2_000;

/** `engines` collects every engine started, for the caller to close if a case throws. */
export async function pythonSection(
  runtime: SandboxRuntime,
  engines: Engine[],
  progress: (step: string) => void,
): Promise<SectionResult> {
  const rows: Measurement[] = [];
  // Sandbox-level cases first, while no engine's pool is starting sandboxes in the background.
  progress("cold starts");
  rows.push(...(await coldStarts(runtime, 8, 3)));
  progress("sandbox resets");
  rows.push(...(await sandboxResets(runtime, 10)));
  progress("pipe round trips and bare bridge");
  rows.push(...(await pipeRoundTrip(runtime, 20_000, 3)));
  rows.push(...(await bareBridge(runtime, CALLS, 3)));

  const engine = benchEngine(2);
  engines.push(engine);
  progress("warm starts");
  rows.push(...(await warmStarts(engine, 30)));
  progress("sequential tool calls");
  rows.push(...(await sequentialCalls(engine, CALLS, 5)));
  progress("gathered tool calls");
  rows.push(...(await gatheredCalls(engine, GATHER_CALLS, 5)));
  await engine.close();

  // Bursts of one-off executions: each sandbox goes back to the pool (reset) after its execution. The same
  // burst with a pool that never reuses one (maxResets 0: killed after one execution, as before issue 14)
  // gives the ratio.
  progress("bursts: 20 simultaneous executions without a container, recycling and not");
  const wide = benchEngine(4);
  engines.push(wide);
  const burst20 = { executions: 20, callsEach: 10, rounds: 3 };
  rows.push(...(await burst(wide, { ...burst20, key: "burst20", label: "20 simultaneous executions" })));
  progress("bursts: 100 simultaneous executions");
  rows.push(
    ...(await burst(wide, {
      key: "burst100",
      label: "100 simultaneous executions",
      executions: 100,
      callsEach: 10,
      rounds: 2,
    })),
  );
  await wide.close();
  const neverReused = benchEngine(4, { maxResets: 0 });
  engines.push(neverReused);
  rows.push(
    ...(await burst(neverReused, {
      ...burst20,
      rounds: 1,
      key: "burst20NoReuse",
      label: "20 simultaneous, sandboxes never reused (before issue 14)",
    })),
  );
  await neverReused.close();

  progress("tool sources: handler, MCP stdio, HTTP");
  rows.push(...(await sourceCalls(SOURCE_CALLS, 5)));

  progress("memory per sandbox");
  rows.push(...(await warmSandboxMemory(4)));

  // Last, so Pyodide loaded into this process cannot slow the host side of the ptc cases.
  progress("in-process baseline");
  rows.push(...(await inProcessBaseline(CALLS, GATHER_CALLS, 5)));
  progress("in-process on the sandbox's Node");
  rows.push(...(await inProcessOnSandboxNode(runtime, CALLS, GATHER_CALLS, 5)));

  const overheads = [
    difference(
      rows,
      "engineOverheadWall",
      "engine overhead per call over a bare sandbox, wall",
      "perCallWall",
      "bareBridgeCall",
    ),
    difference(
      rows,
      "engineOverheadHostCpu",
      "engine overhead per call over a bare sandbox, host CPU",
      "perCallHostCpu",
      "bareHostCpu",
    ),
  ].filter((each) => each !== null);
  rows.push(...overheads);
  const comparisons = [
    compare(rows, "per call (host wall)", "perCallWall", "inProcessPerCall"),
    compare(rows, "per call (in script)", "perCallInScript", "inProcessPerCallInScript"),
    compare(rows, "per call (host wall), vs sandbox Node", "perCallWall", "inProcessSandboxNodePerCall"),
    compare(rows, "per call (in script), vs sandbox Node", "perCallInScript", "inProcessSandboxNodePerCallInScript"),
    compare(rows, `gather of ${GATHER_CALLS}, default cap`, "gatherDefaultCap", "inProcessGather"),
    compare(rows, `gather of ${GATHER_CALLS}, uncapped`, "gatherUncapped", "inProcessGather"),
    compare(rows, "per call via MCP stdio", "sourceMcpStdio", "sourceHandler", "in-process handler"),
    compare(rows, "per call via HTTP tool server", "sourceHttp", "sourceHandler", "in-process handler"),
    // The method before the tool server had a process of its own: its CPU on the bench's event loop.
    compare(rows, "per call via HTTP tool server in-process", "sourceHttpInProcess", "sourceHandler", "handler"),
    compare(rows, "20 simultaneous executions, total wall", "burst20Total", "burst20NoReuseTotal", "never reused"),
    compare(rows, "sandbox CPU per reset", "sandboxResetCpu", "sandboxStartCpu", "per cold start"),
  ].filter((each) => each !== null);
  // Issue 14's targets, in its table's order.
  const targets = [
    checkTarget(rows, "20 simultaneous executions without a container, total wall", "burst20Total", 1_500),
    checkTarget(rows, "100 simultaneous executions, latency", "burst100Latency", 5_000, "p95"),
    checkTarget(rows, "cold sandbox start (from snapshot)", "coldStartSnapshot", 250),
    checkRatio(comparisons, "per call (host wall), vs sandbox Node", 1.5),
    checkTarget(rows, "engine overhead per call over a bare sandbox (wall)", "engineOverheadWall", 10),
    checkTarget(rows, `gather of ${GATHER_CALLS}, default cap, total`, "gatherDefaultCap", 25),
    checkTarget(rows, "memory per warm sandbox, PSS", "sandboxPss", 90),
    checkRatio(comparisons, "per call via HTTP tool server", 2),
    checkTarget(rows, "warm start, existing container", "warmStartContainer", 1),
    checkTarget(rows, "warm start, one-off container", "warmStartOneOff", 3),
    // Not the targets' rows: the same figures once the sandbox's code is optimised, for the reader.
    checkTarget(rows, "(steady state) gather, default cap", "gatherDefaultCapSteady", 25),
    checkTarget(rows, "(steady state) warm start, existing container", "warmStartContainerSteady", 1),
  ].filter((each) => each !== null);
  return { rows, comparisons, targets };
}
