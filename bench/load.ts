// `npm run bench:load`: 200 simultaneous executions against the real `ptc serve` (default caps),
// three bursts: two whose refused clients give up, then one whose clients retry after Retry-After.
// After each burst, the sandboxes alive 0, 30 and 60 s after it (the pool shrinking back to its size).
// Prints a markdown table for BENCHMARKS.md; `--json` adds the raw figures. `--clients N` to vary;
// `--before` runs the server as it was before issue 14 (sandboxes never reused, a queue of 64) for an A/B.
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
  serverCpuMs,
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
  /** `/health`'s live sandboxes 0, 30 and 60 s after the burst's last answer. */
  liveAfter: number[];
  /** RSS 60 s after the burst. */
  afterIdle: MemorySample;
  /** CPU spent from the burst's first POST to its last answer, ms. */
  cpu: { serverMs: number; treeMs: number };
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
    [
      "executions per second (completed and checked / burst wall)",
      (c) => ((c.summary.correct * 1000) / c.summary.wallMs).toFixed(1),
    ],
    [
      "CPU during the burst per completed execution: ptc serve's process / with its sandboxes (ms)",
      (c) => `${(c.cpu.serverMs / c.summary.correct).toFixed(1)} / ${(c.cpu.treeMs / c.summary.correct).toFixed(1)}`,
    ],
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
    ["sandboxes alive 0 / 30 / 60 s after the burst", (c) => c.liveAfter.join(" / ")],
    [
      "RSS 60 s after the burst, server + sandboxes (MiB)",
      (c) => `${mib(c.afterIdle.treeMiB)} (${c.afterIdle.processes} processes)`,
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

/** The sandboxes `/health` counts alive at each of `offsetsMs` after `since`; RSS at the last. */
async function liveAfter(
  server: ServeProcess,
  since: number,
  offsetsMs: readonly number[],
): Promise<{ live: number[]; memory: MemorySample }> {
  const live: number[] = [];
  for (const offset of offsetsMs) {
    await sleep(Math.max(0, since + offset - performance.now()));
    live.push((await health(server.url)).body.pool.live);
  }
  return { live, memory: sampleMemory(server) };
}

/** How the server ran before issue 14: each sandbox killed after one execution, 64 queued at most. */
const BEFORE = { pool: { maxResets: 0 }, maxQueuedExecutions: 64 };

async function main(): Promise<void> {
  const clients = option("clients", 200);
  const before = process.argv.includes("--before");
  const started = performance.now();
  const loadAtStart = loadavg();
  const server = await startServe(before ? BEFORE : {});
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
      const cpuBefore = serverCpuMs(server);
      const result = await runBurst(server, { count: clients, firstIndex: n * 10_000, retrying: step.retrying });
      const ended = performance.now();
      const cpuAfter = serverCpuMs(server);
      const firstLive = (await health(server.url)).body.pool.live;
      const after = await settledMemory(server);
      const idle = await liveAfter(server, ended, [30_000, 60_000]);
      const summary = summarizeBurst(result);
      columns.push({
        name: step.name,
        result,
        summary,
        after,
        liveAfter: [firstLive, ...idle.live],
        cpu: { serverMs: cpuAfter.serverMs - cpuBefore.serverMs, treeMs: cpuAfter.treeMs - cpuBefore.treeMs },
        afterIdle: idle.memory,
        reasons: reasons(result),
      });
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
        ...(before ? ["--before: as before issue 14 (pool.maxResets 0, server.maxQueuedExecutions 64)"] : []),
        `load average ${loadAtStart[0]?.toFixed(2)} at start, ${loadavg()[0]?.toFixed(2)} at end; bench took ${((performance.now() - started) / 1000).toFixed(0)} s; ptc serve exited with ${exitCode}`,
        "",
        table(columns, idle),
      ].join("\n"),
    );
    if (process.argv.includes("--json")) {
      const figures = columns.map(({ name, summary, after, liveAfter: live, afterIdle, reasons: why, result }) => ({
        name,
        summary,
        after,
        liveAfter: live,
        afterIdle,
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
