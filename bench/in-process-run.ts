// Pyodide loaded into the running process, with the same bridge shape as ptc's minus the process
// boundary: Python json.dumps the input, awaits a JS promise of the result line, json.loads it.
// Trusted code only, nothing is isolated: a yardstick. Self-contained (erasable TS, no local
// imports) so the sandbox's Node can also run it directly: `node bench/in-process-run.ts 10000 1000 5`.
import { pathToFileURL } from "node:url";
import { loadPyodide } from "pyodide";

export interface InProcessSamples {
  node: string;
  loadMs: number;
  perCallWallUs: number[];
  perCallInScriptUs: number[];
  gatherMs: number[];
}

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

export async function measureInProcess(calls: number, gatherCalls: number, repeats: number): Promise<InProcessSamples> {
  const loadStarted = performance.now();
  const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
  const loadMs = performance.now() - loadStarted;
  pyodide.registerJsModule("_bench_bridge", {
    call: (_name: string, inputJson: string): Promise<string> => {
      const input = JSON.parse(inputJson) as { x: number };
      return Promise.resolve(`1${JSON.stringify(input.x)}`);
    },
  });
  await pyodide.runPythonAsync(SETUP);
  const samples: InProcessSamples = {
    node: process.version,
    loadMs,
    perCallWallUs: [],
    perCallInScriptUs: [],
    gatherMs: [],
  };
  // Pass 0 of each loop warms up the JIT, as ptc's sandboxes are warmed before timing.
  for (let r = 0; r <= repeats; r++) {
    const started = performance.now();
    const perCall = Number(await pyodide.runPythonAsync(SEQUENTIAL.replaceAll("CALLS", String(calls))));
    if (r === 0) continue;
    samples.perCallWallUs.push(((performance.now() - started) * 1000) / calls);
    samples.perCallInScriptUs.push(perCall);
  }
  for (let r = 0; r <= repeats; r++) {
    const started = performance.now();
    await pyodide.runPythonAsync(GATHER.replaceAll("CALLS", String(gatherCalls)));
    if (r > 0) samples.gatherMs.push(performance.now() - started);
  }
  return samples;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [calls, gatherCalls, repeats] = process.argv.slice(2).map(Number);
  const samples = await measureInProcess(calls ?? 10_000, gatherCalls ?? 1_000, repeats ?? 5);
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}
