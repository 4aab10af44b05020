// Idle containers held per GiB of memory, with and without eviction (issue 13). One `ptc serve` (SQLite
// store) per setting, one after the other: N containers, each with one finished execution that leaves a
// global; then past the eviction time, the PSS of the server's whole process tree (server, bubblewrap,
// sandboxes, warm pool); then every container is used again, one at a time, and must print its global
// (rebuilt by replay when it was evicted). The first use after eviction is the cost of eviction.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logLines, readHealth, requestRetrying, startDurableServe, waitForHealth } from "./durability-serve.js";
import { treeMemoryMiB } from "./proc-tree.js";
import { elapsedMs, type Measurement, median, sleep, summarize } from "./stats.js";

export interface EvictionSettings {
  containers: number;
  /** `server.evictIdleMs` of the evicting server (the other has 0: never). */
  evictIdleMs: number;
}

/** The global container `index` leaves, computed in Python so the replay has to recompute it. */
function markerCode(index: number): string {
  return `marker = "c${index}-" + str(sum(i * i for i in range(${index + 1} * 1000)))\nprint("made", marker)`;
}

function expectedMarker(index: number): string {
  const n = (index + 1) * 1000;
  // Sum of squares 0..n-1, exact in BigInt.
  const big = BigInt(n);
  return `c${index}-${((big - 1n) * big * (2n * big - 1n)) / 6n}`;
}

interface SettingResult {
  evictIdleMs: number;
  /** Tree PSS before any container, pool warm (MiB). */
  baselinePss: number[];
  /** Tree PSS with the N idle containers, past the eviction time (MiB). */
  idlePss: number[];
  idleRss: number[];
  processes: number;
  /** Time of each container's first use after the idle wait (ms). */
  firstUseMs: number[];
  evicted: number;
  leasesBeforeReuse: number;
  retries: number;
}

/** A few PSS readings a little apart: a reading walks every process's page tables, and the tree may still settle. */
async function samplePss(pid: number, count = 3): Promise<{ pss: number[]; rss: number[]; processes: number }> {
  const pss: number[] = [];
  const rss: number[] = [];
  let processes = 0;
  for (let k = 0; k < count; k++) {
    const memory = treeMemoryMiB(pid);
    pss.push(memory.pss);
    rss.push(memory.rss);
    processes = memory.processes;
    await sleep(300);
  }
  return { pss, rss, processes };
}

async function runSetting(settings: EvictionSettings, evictIdleMs: number, dir: string): Promise<SettingResult> {
  const n = settings.containers;
  const server = await startDurableServe({
    store: join(dir, `eviction-${evictIdleMs}.db`),
    nodeId: `evict-${evictIdleMs}`,
    // Room for every container in memory (the quota counts containers in memory), and some to spare.
    server: { evictIdleMs, maxContainers: n + 8, maxContainersPerKey: n + 8 },
  });
  let result: SettingResult;
  let exitCode: number | null = null;
  try {
    await waitForHealth(server.url, (h) => h.pool.warm >= 2, 60_000, "warm pool");
    await sleep(1000);
    const baseline = await samplePss(server.pid);
    let retries = 0;
    const ids: string[] = [];
    // Created two at a time: the pool starts two sandboxes at once, more would only queue.
    for (let first = 0; first < n; first += 2) {
      const batch = [first, first + 1].filter((index) => index < n);
      const made = await Promise.all(
        batch.map((index) =>
          requestRetrying("POST", `${server.url}/v1/executions`, { code: markerCode(index), wait: 60 }),
        ),
      );
      for (const [k, { answer, state, retries: r }] of made.entries()) {
        retries += r;
        const index = batch[k] as number;
        if (answer.status !== 200 || state.status !== "completed" || !state.container_id) {
          throw new Error(`container ${index}: ${answer.status} ${answer.text.slice(0, 300)}`);
        }
        if (state.result?.stdout !== `made ${expectedMarker(index)}\n`) {
          throw new Error(`container ${index} printed ${JSON.stringify(state.result?.stdout)}`);
        }
        ids[index] = state.container_id;
      }
    }
    // Idle past the eviction time (the check runs every evictIdleMs / 4), the same wait for both settings.
    const idleWaitMs = settings.evictIdleMs * 1.5 + 1000;
    await sleep(idleWaitMs);
    if (evictIdleMs > 0) {
      await waitForHealth(server.url, (h) => (h.leases ?? []).length === 0, 30_000, "every container evicted");
      await sleep(1000);
    }
    const leasesBeforeReuse = ((await readHealth(server.url)).leases ?? []).length;
    // Counted before the reuse: a container used early in it may idle out again while the others are used.
    const evicted = logLines(server, "container-evicted").length;
    const idle = await samplePss(server.pid);
    const firstUseMs: number[] = [];
    // One at a time, each with the pool warm again (as for a container used now and then): each figure is
    // one rebuild in a warm sandbox, not a queue of sandbox starts.
    for (const [index, container] of ids.entries()) {
      await waitForHealth(server.url, (h) => h.pool.warm >= 2, 60_000, "warm pool");
      const started = performance.now();
      const {
        answer,
        state,
        retries: r,
      } = await requestRetrying("POST", `${server.url}/v1/executions`, {
        code: "print(marker)",
        container,
        wait: 60,
      });
      firstUseMs.push(elapsedMs(started));
      retries += r;
      if (
        answer.status !== 200 ||
        state.status !== "completed" ||
        state.result?.stdout !== `${expectedMarker(index)}\n`
      ) {
        throw new Error(
          `reuse of container ${index} (evictIdleMs ${evictIdleMs}): ${answer.status} ${answer.text.slice(0, 300)}`,
        );
      }
    }
    result = {
      evictIdleMs,
      baselinePss: baseline.pss,
      idlePss: idle.pss,
      idleRss: idle.rss,
      processes: idle.processes,
      firstUseMs,
      evicted,
      leasesBeforeReuse,
      retries,
    };
  } finally {
    exitCode = await server.stop();
  }
  if (exitCode !== 0) throw new Error(`ptc serve (evictIdleMs ${evictIdleMs}) exited with ${exitCode}`);
  return result;
}

export interface EvictionResult {
  measurements: Measurement[];
  perGiB: { kept: number; evicted: number };
  firstUse: { kept: number; evicted: number };
}

/** Both settings, checked: without eviction every container stays (N leases, none evicted); with it, all N leave. */
export async function idleContainersPerGiB(settings: EvictionSettings): Promise<EvictionResult> {
  const dir = mkdtempSync(join(tmpdir(), "ptc-bench-eviction-"));
  try {
    const kept = await runSetting(settings, 0, dir);
    const evicted = await runSetting(settings, settings.evictIdleMs, dir);
    const n = settings.containers;
    if (kept.evicted !== 0 || kept.leasesBeforeReuse !== n) {
      throw new Error(`without eviction: ${kept.evicted} evicted, ${kept.leasesBeforeReuse} of ${n} leases held`);
    }
    if (evicted.evicted !== n || evicted.leasesBeforeReuse !== 0) {
      throw new Error(`with eviction: ${evicted.evicted} of ${n} evicted, ${evicted.leasesBeforeReuse} leases held`);
    }
    const measurements: Measurement[] = [];
    const perGiB = { kept: 0, evicted: 0 };
    const firstUse = { kept: 0, evicted: 0 };
    for (const [name, result] of [
      ["kept", kept],
      ["evicted", evicted],
    ] as const) {
      const label = name === "kept" ? "evictIdleMs 0 (never)" : `evictIdleMs ${settings.evictIdleMs}`;
      const pss = median(result.idlePss);
      const base = median(result.baselinePss);
      perGiB[name] = n / (pss / 1024);
      firstUse[name] = median(result.firstUseMs);
      measurements.push(
        summarize(
          `idlePss_${name}`,
          `${n} idle containers, ${label}: server tree PSS`,
          "MiB",
          result.idlePss,
          `RSS ${median(result.idleRss).toFixed(0)} MiB, ${result.processes} processes; ${base.toFixed(0)} MiB before any container (pool warm)`,
        ),
        summarize(
          `perGiB_${name}`,
          `  idle containers held per GiB, ${label}`,
          "containers/GiB",
          result.idlePss.map((each) => n / (each / 1024)),
          `${((pss - base) / n).toFixed(1)} MiB per container above the empty server`,
        ),
        summarize(
          `firstUse_${name}`,
          `  first use of each after the idle wait, ${label}`,
          "ms",
          result.firstUseMs,
          `${n}/${n} printed their global${name === "evicted" ? " (rebuilt by replay in a warm sandbox)" : ""}; ${result.retries} retries`,
        ),
      );
    }
    return { measurements, perGiB, firstUse };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
