import { loadPyodide } from "pyodide";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

// The same bridge shape as ptc's, minus the process boundary: Python json.dumps the input, awaits a
// JS promise of the result line, json.loads it. Trusted code only: nothing here is isolated.
const SETUP = `import json, time, asyncio
import _bench_bridge

async def noop(**kwargs):
    reply = await _bench_bridge.call("noop", json.dumps(kwargs))
    return json.loads(reply[1:])`;

const SEQUENTIAL = `t = time.perf_counter()
for i in range(CALLS):
    assert await noop(x=i) == i
(time.perf_counter() - t) * 1e6 / CALLS`;

const GATHER = `r = await asyncio.gather(*[noop(x=i) for i in range(CALLS)])
assert r == list(range(CALLS))`;

/**
 * Pyodide loaded into this (host) process: the unsafe configuration ptc exists to avoid, used only
 * as a yardstick for what the process boundary costs.
 */
export async function inProcessBaseline(calls: number, gatherCalls: number, repeats: number): Promise<Measurement[]> {
  const loadStarted = performance.now();
  const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
  const loadMs = elapsedMs(loadStarted);
  pyodide.registerJsModule("_bench_bridge", {
    call: (_name: string, inputJson: string): Promise<string> => {
      const input = JSON.parse(inputJson) as { x: number };
      return Promise.resolve(`1${JSON.stringify(input.x)}`);
    },
  });
  await pyodide.runPythonAsync(SETUP);
  const wall: number[] = [];
  const inScript: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const started = performance.now();
    const perCall = Number(await pyodide.runPythonAsync(SEQUENTIAL.replaceAll("CALLS", String(calls))));
    // The first pass warms up the JIT, as the ptc sandboxes are warmed before timing.
    if (r === 0) continue;
    wall.push((elapsedMs(started) * 1000) / calls);
    inScript.push(perCall);
  }
  const gather: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const started = performance.now();
    await pyodide.runPythonAsync(GATHER.replaceAll("CALLS", String(gatherCalls)));
    if (r > 0) gather.push(elapsedMs(started));
  }
  const gatherRow = summarize("inProcessGather", `in-process: gather of ${gatherCalls}, total`, "ms", gather);
  gatherRow.note = `${((gatherRow.median * 1000) / gatherCalls).toFixed(0)} µs/call`;
  return [
    summarize("inProcessLoad", `in-process: loadPyodide on Node ${process.version}`, "ms", [loadMs]),
    summarize("inProcessPerCall", `in-process: per call, ${calls} sequential`, "µs", wall),
    summarize("inProcessPerCallInScript", "in-process: per call, time.perf_counter in script", "µs", inScript),
    gatherRow,
  ];
}
