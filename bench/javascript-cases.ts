import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import type { JavaScriptSamples, JavaScriptYardstick } from "./javascript-run.js";
import { type Measurement, shortError, summarize } from "./stats.js";

const SCRIPT = fileURLToPath(new URL("./javascript-run.ts", import.meta.url));

/** How one yardstick is run: which runtime, on which Node, under which key prefix and label. */
interface YardstickRun {
  runtime: JavaScriptYardstick;
  keyPrefix: string;
  label: string;
  /** The sandbox's Node runs the script natively (type stripping); the host's through tsx. */
  onSandboxNode: boolean;
  repeats: number;
}

function runScript(runtime: SandboxRuntime, run: YardstickRun, calls: number, gatherCalls: number) {
  const node = run.onSandboxNode ? runtime.nodePath : process.execPath;
  const loader = run.onSandboxNode ? ["--no-warnings"] : ["--no-warnings", "--import", "tsx"];
  const args = [...loader, SCRIPT, run.runtime, String(calls), String(gatherCalls), String(run.repeats)];
  return new Promise<JavaScriptSamples>((resolve, reject) => {
    execFile(node, args, { maxBuffer: 1_048_576 }, (error, out, err) => {
      if (error) reject(new Error(`${run.label}: ${shortError(error)} ${err.slice(-300)}`));
      else resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}") as JavaScriptSamples);
    });
  });
}

function rows(samples: JavaScriptSamples, run: YardstickRun, calls: number, gatherCalls: number): Measurement[] {
  const prefix = `${run.label}, Node ${samples.node}`;
  if (samples.skipped) return [summarize(`${run.keyPrefix}PerCall`, `${prefix}: per call`, "µs", [], samples.skipped)];
  const gather = summarize(
    `${run.keyPrefix}Gather`,
    `${prefix}: Promise.all of ${gatherCalls}, total`,
    "ms",
    samples.gatherMs,
  );
  gather.note = `${((gather.median * 1000) / gatherCalls).toFixed(0)} µs/call`;
  const measured = [
    summarize(`${run.keyPrefix}FirstRun`, `${prefix}: load + first run`, "ms", [samples.firstRunMs]),
    summarize(`${run.keyPrefix}Start`, `${prefix}: start (fresh context, trivial script)`, "ms", samples.startMs),
    summarize(`${run.keyPrefix}PerCall`, `${prefix}: per call, ${calls} sequential`, "µs", samples.perCallUs),
    gather,
  ];
  if (samples.contextMemoryMiB !== undefined) {
    const memory = summarize(
      `${run.keyPrefix}ContextMemory`,
      `${prefix}: memory per context (QuickJS memory_used_size)`,
      "MiB",
      [samples.contextMemoryMiB],
    );
    memory.note = "a runtime, its context and the host function";
    measured.push(memory);
  }
  return measured;
}

/**
 * The yardsticks of ptc's JavaScript guest, each in its own process so that none slows another or the
 * host side of ptc's cases: in-process QuickJS on the sandbox's Node (the same engine and Node as ptc's
 * guest minus the process boundary: the 2× target's baseline) and on the host's, Vercel's code-mode and
 * Executor's QuickJS runtime on the sandbox's Node too (code-mode declares Node >= 22.13; it also runs on
 * 20, but that is not what its users run). A yardstick whose package is not installed gives one row
 * saying so.
 */
export async function javascriptYardsticks(
  runtime: SandboxRuntime,
  calls: number,
  gatherCalls: number,
  repeats: number,
): Promise<Measurement[]> {
  const runs: YardstickRun[] = [
    { runtime: "quickjs", keyPrefix: "quickjsSandboxNode", label: "in-process QuickJS", onSandboxNode: true, repeats },
    { runtime: "quickjs", keyPrefix: "quickjsHost", label: "in-process QuickJS", onSandboxNode: false, repeats },
    { runtime: "executor", keyPrefix: "executor", label: "Executor runtime-quickjs", onSandboxNode: true, repeats },
    // ~0.3-0.5 ms per call (QuickJS in a worker thread, a synchronous bridge per call): fewer passes.
    {
      runtime: "code-mode",
      keyPrefix: "codeMode",
      label: "@ai-sdk/code-mode",
      onSandboxNode: true,
      repeats: Math.min(repeats, 3),
    },
  ];
  const measured: Measurement[] = [];
  for (const run of runs)
    measured.push(...rows(await runScript(runtime, run, calls, gatherCalls), run, calls, gatherCalls));
  return measured;
}
