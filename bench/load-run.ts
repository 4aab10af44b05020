// The load case, shared by `npm run bench:load` (bench/load.ts) and test/adversarial/load.test.ts:
// the real `ptc serve` CLI as a child process, N simultaneous POST /v1/executions over real sockets,
// /health and the RSS of the server's process tree sampled throughout.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PoolConfig } from "../src/config/ptc-config.js";
import type { CliChild } from "../test/helpers/cli.js";
import { startServingCli } from "../test/helpers/server.js";
import { expectedStdout, loadScript } from "./load-tools.js";
import { processTree } from "./proc-tree.js";
import { median, percentile, sleep } from "./stats.js";

export const LOAD_KEY = "key-load-0123456789abcdef";
const TOOLS = fileURLToPath(new URL("./load-tools.ts", import.meta.url));

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/**
 * Up to 256 sockets at once, so the client never serialises the burst; a new connection per request,
 * as from separate clients (and no keep-alive race with the server's idle timeout on retries).
 */
const burstAgent = new Agent({ keepAlive: false, maxSockets: 256 });
/** /health on sockets of its own, so it is never stuck behind the burst on the client side. */
const healthAgent = new Agent({ keepAlive: false, maxSockets: 2 });

export function httpJson(agent: Agent, method: string, url: string, body?: unknown): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(
      url,
      {
        method,
        agent,
        headers: { "x-api-key": LOAD_KEY, ...(payload ? { "content-type": "application/json" } : {}) },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {}
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        });
        response.on("error", reject);
      },
    );
    outgoing.setTimeout(180_000, () => outgoing.destroy(new Error(`${method} ${url}: no answer in 180 s`)));
    outgoing.on("error", reject);
    outgoing.end(payload);
  });
}

export interface ServeProcess {
  url: string;
  pid: number;
  child: CliChild;
  stderr(): string;
  /** Every pid seen in the server's process tree so far (sampling adds to it). */
  seenPids: Set<number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface ServeOptions {
  maxRunningExecutions?: number;
  maxQueuedExecutions?: number;
  /** The config's `pool` section. */
  pool?: PoolConfig;
}

/** `ptc serve --port 0 --tools bench/load-tools.ts` from source, with its own config file. */
export async function startServe(options: ServeOptions = {}): Promise<ServeProcess> {
  const directory = await mkdtemp(join(tmpdir(), "ptc-load-"));
  const config = join(directory, "ptc.config.json");
  const { pool, ...server } = options;
  await writeFile(config, JSON.stringify({ ...(pool ? { pool } : {}), server: { apiKeys: [LOAD_KEY], ...server } }));
  const served = await startServingCli(["serve", "--config", config, "--port", "0", "--tools", TOOLS], {
    fromSource: true,
  });
  const pid = served.child.pid as number;
  const seenPids = new Set<number>([pid]);
  return {
    url: served.url,
    pid,
    child: served.child,
    stderr: served.stderr,
    seenPids,
    async stop() {
      for (const each of processTree(pid)) seenPids.add(each);
      const code = await served.stop();
      await rm(directory, { recursive: true, force: true });
      return code;
    },
  };
}

function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU in ms so far: the server process's own, and its whole tree's (itself, its reaped children, the live ones). */
export function serverCpuMs(server: ServeProcess): { serverMs: number; treeMs: number } {
  const ticks = (pid: number, withChildren: boolean) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      // After "pid (comm) ": utime, stime, cutime, cstime are fields 14-17 overall.
      const fields = stat
        .slice(stat.lastIndexOf(")") + 2)
        .split(" ")
        .map(Number);
      const own = (fields[11] ?? 0) + (fields[12] ?? 0);
      return withChildren ? own + (fields[13] ?? 0) + (fields[14] ?? 0) : own;
    } catch {
      return 0;
    }
  };
  const serverTicks = ticks(server.pid, false);
  // The server's cutime and cstime hold every sandbox it reaped (bubblewrap's reaped its own before it).
  let treeTicks = ticks(server.pid, true);
  for (const each of processTree(server.pid)) if (each !== server.pid) treeTicks += ticks(each, true);
  return { serverMs: serverTicks * 10, treeMs: treeTicks * 10 };
}

export interface MemorySample {
  serverMiB: number;
  treeMiB: number;
  processes: number;
}

/** VmRSS of the server process, and summed over it and every descendant (bwrap, sandboxes). */
export function sampleMemory(server: ServeProcess): MemorySample {
  const pids = processTree(server.pid);
  for (const each of pids) server.seenPids.add(each);
  return {
    serverMiB: rssMiB(server.pid),
    treeMiB: pids.reduce((sum, each) => sum + rssMiB(each), 0),
    processes: pids.length,
  };
}

export interface Health {
  status: string;
  pool: { live: number; warm: number; starting: number; resetting?: number; recycled?: number };
  executions: { running: number; queued: number; finished: number; containers: number };
  admission: { running: number; queued: number; max_running: number; max_queued: number };
}

export interface Rejection {
  index: number;
  /** The client retried after it (else it gave up: one refused client). */
  retried: boolean;
  status: number;
  retryAfter: string | undefined;
  body: unknown;
}

export interface Finished {
  index: number;
  id: string;
  status: string;
  stdout: string;
  correct: boolean;
  /** The result's error, when it has one. */
  error?: { code: string; message: string };
  /** A client that retries 429s. */
  retrying: boolean;
  /** From the first POST to the finished state, retries included. */
  latencyMs: number;
  attempts: number;
}

export interface BurstResult {
  count: number;
  wallMs: number;
  /** POST /v1/executions sent, retries included. */
  posts: number;
  finished: Finished[];
  rejections: Rejection[];
  /** Answers that are neither a finished execution nor a 429 (must stay empty). */
  others: Array<{ index: number; status: number; text: string }>;
  health: { answered: number; failed: number; maxRunning: number; maxQueued: number; maxLive: number };
  caps: { maxRunning: number; maxQueued: number };
  peak: MemorySample;
}

const FINAL = new Set(["completed", "failed", "cancelled"]);

/** One client: POST, then GET ?wait= until finished; with `retry`, a 429 is retried after Retry-After. */
async function client(url: string, index: number, retry: boolean, result: BurstResult): Promise<void> {
  try {
    await submit(url, index, retry, result);
  } catch (error) {
    // A reset or refused connection is a failure of the server under load: reported, not thrown.
    result.others.push({ index, status: 0, text: error instanceof Error ? error.message : String(error) });
  }
}

async function submit(url: string, index: number, retry: boolean, result: BurstResult): Promise<void> {
  const started = performance.now();
  for (let attempts = 1; ; attempts++) {
    result.posts++;
    let answer = await httpJson(burstAgent, "POST", `${url}/v1/executions`, { code: loadScript(index), wait: 60 });
    if (answer.status === 429) {
      const retryAfter = answer.headers["retry-after"];
      result.rejections.push({
        index,
        retried: retry,
        status: answer.status,
        retryAfter: retryAfter as string | undefined,
        body: answer.json,
      });
      if (!retry) return;
      // Honour Retry-After, plus jitter so the retries do not arrive as one burst again.
      await sleep(Number(retryAfter ?? 1) * 1000 + Math.random() * 1000);
      continue;
    }
    let state = answer.json as {
      id?: string;
      status?: string;
      result?: { stdout?: string; error?: { code: string; message: string } | null } | null;
    };
    while (answer.status === 200 && state.id && !FINAL.has(state.status ?? "")) {
      answer = await httpJson(burstAgent, "GET", `${url}/v1/executions/${state.id}?wait=60`);
      state = answer.json as typeof state;
    }
    if (answer.status !== 200 || !state.id) {
      result.others.push({ index, status: answer.status, text: answer.text.slice(0, 500) });
      return;
    }
    const stdout = state.result?.stdout ?? "";
    result.finished.push({
      index,
      id: state.id,
      status: state.status ?? "",
      stdout,
      correct: state.status === "completed" && stdout === expectedStdout(index),
      retrying: retry,
      ...(state.result?.error ? { error: { code: state.result.error.code, message: state.result.error.message } } : {}),
      latencyMs: performance.now() - started,
      attempts,
    });
    return;
  }
}

/** GET with the server's key, off the burst's sockets. */
export function apiGet(url: string, path: string): Promise<HttpAnswer> {
  return httpJson(healthAgent, "GET", `${url}${path}`);
}

export async function health(url: string): Promise<{ status: number; body: Health }> {
  const answer = await httpJson(healthAgent, "GET", `${url}/health`);
  return { status: answer.status, body: answer.json as Health };
}

/**
 * `count` simultaneous executions (inputs `firstIndex`…), /health and memory sampled every
 * `sampleEveryMs` until every client is done.
 */
export async function runBurst(
  server: ServeProcess,
  options: {
    count: number;
    firstIndex?: number;
    /** How many of the clients (the last ones sent, likeliest to be refused) retry a 429 after its Retry-After; default none. */
    retrying?: number;
    sampleEveryMs?: number;
  },
): Promise<BurstResult> {
  const before = await health(server.url);
  const result: BurstResult = {
    count: options.count,
    wallMs: 0,
    posts: 0,
    finished: [],
    rejections: [],
    others: [],
    health: { answered: 0, failed: 0, maxRunning: 0, maxQueued: 0, maxLive: 0 },
    caps: { maxRunning: before.body.admission.max_running, maxQueued: before.body.admission.max_queued },
    peak: sampleMemory(server),
  };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const memory = sampleMemory(server);
      result.peak = {
        serverMiB: Math.max(result.peak.serverMiB, memory.serverMiB),
        treeMiB: Math.max(result.peak.treeMiB, memory.treeMiB),
        processes: Math.max(result.peak.processes, memory.processes),
      };
      try {
        const { status, body } = await health(server.url);
        if (status !== 200 || body.status !== "ok") throw new Error(`health ${status}`);
        result.health.answered++;
        result.health.maxRunning = Math.max(result.health.maxRunning, body.admission.running);
        result.health.maxQueued = Math.max(result.health.maxQueued, body.admission.queued);
        result.health.maxLive = Math.max(result.health.maxLive, body.pool.live);
      } catch {
        result.health.failed++;
      }
      await sleep(options.sampleEveryMs ?? 100);
    }
  })();
  const started = performance.now();
  const first = options.firstIndex ?? 0;
  const clients = Array.from({ length: options.count }, (_, k) =>
    client(server.url, first + k, k >= options.count - (options.retrying ?? 0), result),
  );
  try {
    await Promise.all(clients);
  } finally {
    result.wallMs = performance.now() - started;
    done = true;
    await sampler;
  }
  return result;
}

/** Waits until no execution holds or waits for a slot, then lets the server settle and samples its RSS. */
export async function settledMemory(server: ServeProcess, quietMs = 2_000): Promise<MemorySample> {
  for (;;) {
    const { body } = await health(server.url);
    if (body.admission.running === 0 && body.admission.queued === 0) break;
    await sleep(100);
  }
  await sleep(quietMs);
  return sampleMemory(server);
}

export interface BurstSummary {
  held: number;
  correct: number;
  /** 429 answers (a retrying client may get several). */
  rejected: number;
  /** Clients that got a 429 and gave up. */
  refusedClients: number;
  others: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  wallMs: number;
  posts: number;
}

export function summarizeBurst(result: BurstResult): BurstSummary {
  const latencies = result.finished.map((each) => each.latencyMs);
  return {
    held: result.finished.length,
    correct: result.finished.filter((each) => each.correct).length,
    rejected: result.rejections.length,
    refusedClients: result.rejections.filter((each) => !each.retried).length,
    others: result.others.length,
    p50Ms: median(latencies),
    p95Ms: percentile(latencies, 0.95),
    maxMs: Math.max(...latencies),
    wallMs: result.wallMs,
    posts: result.posts,
  };
}
