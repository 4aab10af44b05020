// `npm test`'s runner: every test file under test/, each its own process (with its own sandboxes), in two
// phases. Most files run 2 to PTC_TEST_CONCURRENCY (default 4) at a time, as the machine's idle CPU allows
// (scripts/test-pool.mjs), slowest first: started last, a long file would run on alone at the end. Then the
// files that measure the host itself run one at a time, alone (SERIAL_FILES): beside other files they would
// measure those files' load. Arguments, if any, are extra flags for each file's node (e.g.
// --test-name-pattern=...).
import { readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { removeLeftGroups } from "./test-cpu.mjs";
import { runPool } from "./test-pool.mjs";

const MAX_CONCURRENCY = Math.max(1, Number(process.env.PTC_TEST_CONCURRENCY ?? 4));
/** Files the parallel phase always runs at once, whatever the CPU: as many as the machines here have cores. */
const MIN_CONCURRENCY = Math.min(2, MAX_CONCURRENCY);
/** A test that runs longer fails (per test, not per file). */
const TEST_TIMEOUT_MS = 180_000;

const SERIAL_FILES = [
  // /health answers within 1 s and the event loop never stalls 1 s while a tool call runs SQLite.
  "test/adversarial/host-event-loop.test.ts",
  // /health's median under 300 ms while a 9 MB input is validated; host RSS growth.
  "test/adversarial/host-budget.test.ts",
  // A 200-request burst: /health, sampled throughout, must see every running slot filled; the server's RSS
  // after a second burst against the first.
  "test/adversarial/load.test.ts",
  // Sandboxes allocating GBs, their resident set sampled every 5 ms against the bound.
  "test/adversarial/memory.test.ts",
  // A 300 ms pending-call timeout that the test's own answer must beat.
  "test/adversarial/pause-resume.test.ts",
  // Four `ptc serve` nodes on 1.5 s leases (SIGSTOP past a lease, takeovers): another file's load delays
  // their heartbeats past the lease, and every step then waits out 503s.
  "test/server/durable/executions-nodes.test.ts",
];

/**
 * The longest files, longest first, as measured in a full run at 2 files at once (seconds). The other
 * files follow in name order.
 */
const SLOWEST_FIRST = [
  "test/server/durable/executions-crash.test.ts", // 58
  "test/server/durable/messages-crash.test.ts", // 40
  "test/cli/language.test.ts", // 39
  "test/server/durable/messages-interrupted.test.ts", // 34
  "test/adversarial/key-fairness.test.ts", // 33
  "test/engine/javascript-execution.test.ts", // 30
  "test/package/package-install.test.ts", // 38 (measured alone)
  "test/adversarial/javascript-resources.test.ts", // 30
  "test/server/durable/messages-nodes.test.ts", // 27
  "test/package/examples.test.ts", // 26
  "test/sandbox/sandbox-pool.test.ts", // 23
  "test/adversarial/sandbox-reset.test.ts", // 22
  "test/engine/limits.test.ts", // 20
  "test/server/durable/messages-resend.test.ts", // 18
  "test/cli/tool-flags.test.ts", // 18
  "test/engine/engine.test.ts", // 18
  "test/adversarial/escape.test.ts", // 17
  "test/adversarial/tool-boundary.test.ts", // 17
  "test/cli/mcp-command.test.ts", // 16
  "test/server/openai/responses-continuation.test.ts", // 16
  "test/engine/cancelled-calls.test.ts", // 14
];

const root = fileURLToPath(new URL("..", import.meta.url));

function testFiles(directory) {
  return readdirSync(join(root, directory), { withFileTypes: true })
    .flatMap((entry) => {
      const path = `${directory}/${entry.name}`;
      if (entry.isDirectory()) return entry.name === "fixtures" ? [] : testFiles(path);
      return entry.name.endsWith(".test.ts") ? [path] : [];
    })
    .sort();
}

const all = testFiles("test");
for (const file of [...SERIAL_FILES, ...SLOWEST_FIRST]) {
  if (!all.includes(file)) throw new Error(`scripts/run-tests.mjs names ${file}, which is not a test file`);
}
const rank = (file) => (SLOWEST_FIRST.includes(file) ? SLOWEST_FIRST.indexOf(file) : SLOWEST_FIRST.length);
const parallel = all.filter((file) => !SERIAL_FILES.includes(file)).sort((a, b) => rank(a) - rank(b));
// TypeScript through scripts/test-loader.mjs (esbuild, cached), not tsx: half tsx's CPU a test process.
const loader = pathToFileURL(join(root, "scripts", "test-loader.mjs")).href;
const nodeFlags = ["--import", loader, `--test-timeout=${TEST_TIMEOUT_MS}`, ...process.argv.slice(2)];

const print = (text) => process.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);

/** Runs one phase, printing each file's TAP as it ends and then the phase's totals; resolves to the outcomes. */
async function phase(name, files, min, max) {
  const started = Date.now();
  const outcomes = await runPool(files, {
    min,
    max,
    cwd: root,
    nodeFlags,
    onStart(file, running, idle) {
      print(`# ---- started ${file} (${running} running; CPU ${Math.round(idle * 100)}% idle)`);
    },
    onDone(outcome) {
      print(
        `# ---- ${outcome.file}: ${outcome.passed ? "passed" : `FAILED (exit ${outcome.exit})`}, ${outcome.seconds} s` +
          (outcome.cpuSeconds === undefined ? "" : `, ${outcome.cpuSeconds} s CPU`),
      );
      print(outcome.tap);
      // What the file wrote to stderr (warnings, a crash's stack), as TAP comments.
      if (outcome.stderr.trim()) print(outcome.stderr.trim().replace(/^/gm, "# stderr: "));
    },
  });
  const totals = Object.fromEntries(
    ["tests", "pass", "fail", "cancelled", "skipped", "todo"].map((count) => [
      count,
      outcomes.reduce((sum, outcome) => sum + outcome.counts[count], 0),
    ]),
  );
  const slowest = [...outcomes].sort((a, b) => b.seconds - a.seconds).slice(0, 10);
  print(
    `# ==== ${name}: ${files.length} files, ${min} to ${max} at once, ${(Date.now() - started) / 1000} s, ` +
      `${cpuSum(outcomes)} s CPU`,
  );
  print(
    `# ${Object.entries(totals)
      .map(([count, value]) => `${count} ${value}`)
      .join(", ")}`,
  );
  print(`# slowest: ${slowest.map((outcome) => `${outcome.file} ${outcome.seconds} s`).join(", ")}`);
  return outcomes;
}

/** The files' CPU seconds together (user + system, each file's whole process tree: scripts/test-cpu.mjs). */
function cpuSum(outcomes, measure = "cpuSeconds") {
  return Math.round(outcomes.reduce((sum, outcome) => sum + (outcome[measure] ?? 0), 0));
}

const runStarted = Date.now();
// The machine's 1-minute load average, every 10 s: the wall of a run says little without what else ran.
const loads = [];
setInterval(() => loads.push(loadavg()[0]), 10_000).unref();
const outcomes = [
  ...(await phase("parallel phase", parallel, MIN_CONCURRENCY, MAX_CONCURRENCY)),
  ...(await phase("serial phase", SERIAL_FILES, 1, 1)),
];
// CPU, not wall, is the figure to compare between runs: the wall depends on whatever else the machine runs.
const hungriest = [...outcomes].sort((a, b) => (b.cpuSeconds ?? 0) - (a.cpuSeconds ?? 0)).slice(0, 15);
print(
  `# ==== all: ${outcomes.length} files, ${(Date.now() - runStarted) / 1000} s wall, ${cpuSum(outcomes)} s CPU ` +
    `(files' process trees, user + system; ${cpuSum(outcomes, "reapedCpuSeconds")} s as reaped); the runner itself ${Math.round(
      (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    )} s CPU`,
);
if (loads.length > 0) {
  const mean = loads.reduce((sum, load) => sum + load, 0) / loads.length;
  print(`# load average (1 min) during the run: mean ${mean.toFixed(1)}, max ${Math.max(...loads).toFixed(1)}`);
}
print(`# most CPU: ${hungriest.map((outcome) => `${outcome.file} ${outcome.cpuSeconds} s`).join(", ")}`);
removeLeftGroups();
const failed = outcomes.filter((outcome) => !outcome.passed);
for (const outcome of failed) print(`# FAILED: ${outcome.file} (exit ${outcome.exit})`);
process.exitCode = failed.length > 0 ? 1 : 0;
