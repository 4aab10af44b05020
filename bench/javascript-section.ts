// The JavaScript section of `npm run bench` (also alone: `npm run bench -- javascript`): the yardsticks
// (in-process QuickJS, @ai-sdk/code-mode, Executor's QuickJS runtime), their comparisons with each other
// and the issue-15 target rows.
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { javascriptYardsticks } from "./javascript-cases.js";
import { type Comparison, compare, type TargetCheck } from "./report.js";
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
}

export async function javascriptSection(
  runtime: SandboxRuntime,
  options: JavaScriptSectionOptions,
): Promise<SectionResult> {
  const { calls, gatherCalls, repeats, progress } = options;
  const rows: Measurement[] = [];
  progress("JavaScript yardsticks: in-process QuickJS, Executor, @ai-sdk/code-mode (each in its own process)");
  rows.push(...(await javascriptYardsticks(runtime, calls, gatherCalls, repeats)));
  const inProcess = "in-process QuickJS";
  const comparisons = [
    compare(rows, "Executor per call", "executorPerCall", "quickjsSandboxNodePerCall", inProcess),
    compare(rows, "code-mode per call", "codeModePerCall", "quickjsSandboxNodePerCall", inProcess),
    compare(rows, `Executor Promise.all of ${gatherCalls}`, "executorGather", "quickjsSandboxNodeGather", inProcess),
    compare(rows, `code-mode Promise.all of ${gatherCalls}`, "codeModeGather", "quickjsSandboxNodeGather", inProcess),
  ].filter((each) => each !== null);
  return { rows, comparisons, targets: [] };
}
