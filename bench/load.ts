// `npm run bench:load`: 200 simultaneous executions against the real `ptc serve` (default caps),
// three bursts: two whose refused clients give up, then one whose clients retry after Retry-After.
// Prints a markdown table for BENCHMARKS.md; `--json` adds the raw figures. `--clients N` to vary.
import { execFileSync } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";
import {
  type BurstResult,
  type BurstSummary,
  health,
  type MemorySample,
  runBurst,
  type ServeProcess,
  sampleMemory,
  settledMemory,
  startServe,
  summarizeBurst,
} from "./load-run.js";
import { formatNumber, shortError, sleep } from "./stats.js";

interface Column {
  name: string;
  result: BurstResult;
  summary: BurstSummary;
  after: MemorySample;
  /** 429 answers by message, numbers elided: which bound refused them. */
  reasons: Record<string, number>;
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

function reasons(result: BurstResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const rejection of result.rejections) {
    const message = (rejection.body as { error?: { message?: string } } | null)?.error?.message ?? "?";
    const key = message.replace(/\d+/g, "N");
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Until the warm pool is full again, so each burst starts from the same state. */
async function poolWarm(server: ServeProcess): Promise<void> {
  for (let tries = 0; tries < 600; tries++) {
    const { body } = await health(server.url);
    if (body.pool.starting === 0 && body.pool.warm > 0) return;
    await sleep(100);
  }
}

function table(columns: readonly Column[], idle: MemorySample): string {
  const mib = (value: number) => formatNumber(value);
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const rows: Array<[string, (column: Column) => string]> = [
    ["clients (simultaneous POST /v1/executions)", (c) => String(c.result.count)],
    ["held: admitted and completed, output checked", (c) => `${c.summary.correct} / ${c.summary.held}`],
    ["rejected: 429 `overloaded` with Retry-After", (c) => String(c.summary.rejected)],
    ["other statuses (5xx, …)", (c) => String(c.summary.others)],
    ["POSTs sent (retries included)", (c) => String(c.summary.posts)],
    ["latency of admitted, p50 (s)", (c) => seconds(c.summary.p50Ms)],
    ["latency of admitted, p95 (s)", (c) => seconds(c.summary.p95Ms)],
    ["latency of admitted, max (s)", (c) => seconds(c.summary.maxMs)],
    ["burst, first POST to last answer (s)", (c) => seconds(c.summary.wallMs)],
    ["/health: answered / failed during the burst", (c) => `${c.result.health.answered} / ${c.result.health.failed}`],
    [
      "/health: peak running / queued (caps)",
      (c) =>
        `${c.result.health.maxRunning} / ${c.result.health.maxQueued} (${c.result.caps.maxRunning} / ${c.result.caps.maxQueued})`,
    ],
    ["/health: peak sandboxes alive", (c) => String(c.result.health.maxLive)],
    ["peak RSS, server process (MiB)", (c) => mib(c.result.peak.serverMiB)],
    ["peak RSS, server + sandboxes (MiB)", (c) => mib(c.result.peak.treeMiB)],
    ["peak processes in the server's tree", (c) => String(c.result.peak.processes)],
    ["RSS after the burst, server process (MiB)", (c) => mib(c.after.serverMiB)],
    [
      "RSS after the burst, server + sandboxes (MiB)",
      (c) => `${mib(c.after.treeMiB)} (${c.after.processes} processes)`,
    ],
  ];
  const header = `| | ${columns.map((c) => c.name).join(" | ")} |`;
  const rule = `|---|${columns.map(() => "---:").join("|")}|`;
  const body = rows.map(([label, cell]) => `| ${label} | ${columns.map(cell).join(" | ")} |`);
  const idleLine = `Idle before the first burst: server ${mib(idle.serverMiB)} MiB, server + sandboxes ${mib(idle.treeMiB)} MiB (${idle.processes} processes).`;
  const why = columns.map(
    (c) =>
      `${c.name}: ${
        Object.entries(c.reasons)
          .map(([message, count]) => `${count} × "${message}"`)
          .join(", ") || "no 429"
      }`,
  );
  return [header, rule, ...body, "", idleLine, "", "429 messages (numbers as N):", ...why.map((l) => `- ${l}`)].join(
    "\n",
  );
}

async function main(): Promise<void> {
  const clients = option("clients", 200);
  const started = performance.now();
  const loadAtStart = loadavg();
  const server = await startServe();
  const columns: Column[] = [];
  /** The figures are printed either way; any of these fails the bench afterwards. */
  const problems: string[] = [];
  let exitCode: number | null = null;
  try {
    await poolWarm(server);
    const idle = sampleMemory(server);
    const plan = [
      { name: "burst 1", retrying: 0 },
      { name: "burst 2", retrying: 0 },
      { name: "burst 3 (clients retry)", retrying: clients },
    ];
    for (const [n, step] of plan.entries()) {
      process.stderr.write(`· ${step.name}: ${clients} at once\n`);
      await poolWarm(server);
      const result = await runBurst(server, { count: clients, firstIndex: n * 10_000, retrying: step.retrying });
      const after = await settledMemory(server);
      const summary = summarizeBurst(result);
      columns.push({ name: step.name, result, summary, after, reasons: reasons(result) });
      const wrong = new Map<string, number>();
      for (const each of result.finished.filter((finished) => !finished.correct)) {
        const key = `${each.status} ${each.error ? `${each.error.code}: ${each.error.message}` : JSON.stringify(each.stdout)}`;
        wrong.set(key, (wrong.get(key) ?? 0) + 1);
      }
      for (const other of result.others) {
        const key = `HTTP ${other.status} ${other.text}`;
        wrong.set(key, (wrong.get(key) ?? 0) + 1);
      }
      for (const [what, count] of wrong) problems.push(`${step.name}: ${count} × ${what}`);
    }
    const isolation = (await health(server.url)).body as unknown as { isolation: string };
    exitCode = await server.stop();
    const processors = cpus();
    console.log(
      [
        `commit ${commit()}, ${new Date().toISOString().slice(0, 10)}; ${processors.length} × ${processors[0]?.model.trim()}, ` +
          `${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform} ${release()}, host Node ${process.version}, isolation ${isolation.isolation}`,
        `load average ${loadAtStart[0]?.toFixed(2)} at start, ${loadavg()[0]?.toFixed(2)} at end; bench took ${((performance.now() - started) / 1000).toFixed(0)} s; ptc serve exited with ${exitCode}`,
        "",
        table(columns, idle),
      ].join("\n"),
    );
    if (process.argv.includes("--json")) {
      const figures = columns.map(({ name, summary, after, reasons: why, result }) => ({
        name,
        summary,
        after,
        reasons: why,
        health: result.health,
        caps: result.caps,
        peak: result.peak,
      }));
      console.log(JSON.stringify({ clients, idle, bursts: figures }, null, 2));
    }
  } finally {
    if (server.child.exitCode === null) await server.stop();
  }
  if (exitCode !== 0) problems.push(`ptc serve exited with ${exitCode}`);
  if (problems.length > 0) {
    const logged = server
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{") && !line.includes('"msg":"request"'));
    throw new Error([...problems.slice(0, 20), "server log (requests left out):", ...logged.slice(-20)].join("\n"));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${shortError(error, 8_000)}`);
    process.exit(1);
  },
);
