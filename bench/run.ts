// `npm run bench`: ptc's start-up, tool-call and memory costs, with an in-process Pyodide yardstick
// measured in the same run, then the JavaScript section (ptc's JavaScript guest beside in-process QuickJS,
// @ai-sdk/code-mode and Executor's QuickJS runtime). `--json` also prints the results as JSON.
//   npm run bench                   # everything (~5 min on 2 cores)
//   npm run bench -- javascript     # the JavaScript section alone
//   npm run bench -- python         # everything but the JavaScript section
import type { Engine } from "../src/engine/engine.js";
import { resolveSandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { javascriptSection } from "./javascript-section.js";
import { currentLoadAverage, describeMachine, formatMachine } from "./machine.js";
import { pythonSection } from "./python-section.js";
import { type BenchReport, type Comparison, formatReport, type TargetCheck } from "./report.js";
import { elapsedMs, type Measurement, shortError } from "./stats.js";

// The JavaScript section's workloads, the same as the Python section's (10,000 sequential calls, a gather
// of 1,000), five timed passes each.
const JAVASCRIPT = { calls: 10_000, gatherCalls: 1_000, repeats: 5 };

const SECTIONS = ["python", "javascript"] as const;
type Section = (typeof SECTIONS)[number];

function progress(step: string): void {
  process.stderr.write(`· ${step}\n`);
}

/** The sections named on the command line (`npm run bench -- javascript`), all of them by default. */
function chosenSections(argv: readonly string[]): Section[] {
  const named = argv.filter((each) => !each.startsWith("--"));
  for (const each of named) {
    if (!SECTIONS.some((section) => section === each)) {
      throw new Error(`unknown bench section ${JSON.stringify(each)}; sections: ${SECTIONS.join(", ")}`);
    }
  }
  return named.length === 0 ? [...SECTIONS] : SECTIONS.filter((section) => named.includes(section));
}

async function main(): Promise<void> {
  const sections = chosenSections(process.argv.slice(2));
  const started = performance.now();
  const loadAverage = currentLoadAverage();
  const runtime = resolveSandboxRuntime();
  const machine = describeMachine(runtime, loadAverage);
  const rows: Measurement[] = [];
  const comparisons: Comparison[] = [];
  const targets: TargetCheck[] = [];
  const engines: Engine[] = [];
  try {
    if (sections.includes("python")) {
      const python = await pythonSection(runtime, engines, progress);
      rows.push(...python.rows);
      comparisons.push(...python.comparisons);
      targets.push(...python.targets);
    }
    if (sections.includes("javascript")) {
      const javascript = await javascriptSection(runtime, { ...JAVASCRIPT, progress, engines });
      rows.push(...javascript.rows);
      comparisons.push(...javascript.comparisons);
      targets.push(...javascript.targets);
    }
    const report: BenchReport = {
      machine,
      measurements: rows,
      comparisons,
      targets,
      durationS: elapsedMs(started) / 1000,
      loadAverageAtEnd: currentLoadAverage(),
    };
    console.log(`${formatMachine(machine)}\n`);
    console.log(formatReport(report));
    if (process.argv.includes("--json")) console.log(JSON.stringify(report, null, 2));
  } finally {
    await Promise.allSettled(engines.map((engine) => engine.close()));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${shortError(error)}`);
    process.exit(1);
  },
);
