import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { type InProcessSamples, measureInProcess } from "./in-process-run.js";
import { type Measurement, shortError, summarize } from "./stats.js";

function rows(samples: InProcessSamples, prefix: string, keyPrefix: string, calls: number, gatherCalls: number) {
  const gather = summarize(`${keyPrefix}Gather`, `${prefix}: gather of ${gatherCalls}, total`, "ms", samples.gatherMs);
  gather.note = `${((gather.median * 1000) / gatherCalls).toFixed(0)} µs/call`;
  return [
    summarize(`${keyPrefix}Load`, `${prefix}: loadPyodide`, "ms", [samples.loadMs]),
    summarize(`${keyPrefix}PerCall`, `${prefix}: per call, ${calls} sequential`, "µs", samples.perCallWallUs),
    summarize(`${keyPrefix}PerCallInScript`, `${prefix}: per call, time.perf_counter`, "µs", samples.perCallInScriptUs),
    gather,
  ];
}

/** The yardstick ptc is compared with: Pyodide in this (host) process, no isolation. */
export async function inProcessBaseline(calls: number, gatherCalls: number, repeats: number): Promise<Measurement[]> {
  const samples = await measureInProcess(calls, gatherCalls, repeats);
  return rows(samples, `in-process, host Node ${samples.node}`, "inProcess", calls, gatherCalls);
}

/**
 * The same loop run by the sandbox's Node binary as a plain process (no permission model, no
 * bubblewrap, no pipe per call): separates the Node/V8 version's share from the process boundary's.
 */
export async function inProcessOnSandboxNode(
  runtime: SandboxRuntime,
  calls: number,
  gatherCalls: number,
  repeats: number,
): Promise<Measurement[]> {
  const script = fileURLToPath(new URL("./in-process-run.ts", import.meta.url));
  const args = ["--no-warnings", script, String(calls), String(gatherCalls), String(repeats)];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(runtime.nodePath, args, { maxBuffer: 1_048_576 }, (error, out, err) => {
      // Pyodide's errors can quote its minified source: only a short tail of stderr is kept.
      if (error) reject(new Error(`${shortError(error)} ${err.slice(-300)}`));
      else resolve(out);
    });
  });
  const samples = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as InProcessSamples;
  return rows(samples, `in-process, sandbox Node ${samples.node}`, "inProcessSandboxNode", calls, gatherCalls);
}
