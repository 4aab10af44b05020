// `ptc serve` as the durability bench's eviction and nodes cases run it: the built CLI (bin/ptc.js, so
// `npm run build` first; not tsx, whose compiler would inflate the server's memory), a store, a node id and
// a config file of its own. Requests go with the load bench's key (`httpJson`, load-run.ts).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServingCli } from "../test/helpers/server.js";
import { type HttpAnswer, httpJson, LOAD_KEY } from "./load-run.js";
import { sleep } from "./stats.js";

export interface DurableServe {
  url: string;
  pid: number;
  nodeId: string;
  stderr(): string;
  /** SIGTERM, then its exit code; the config directory is removed. */
  stop(): Promise<number | null>;
}

export interface DurableServeOptions {
  store: string;
  nodeId: string;
  /** `server.*` settings besides the key (evictIdleMs, maxContainers, …). */
  server?: Record<string, number>;
}

export async function startDurableServe(options: DurableServeOptions): Promise<DurableServe> {
  const directory = await mkdtemp(join(tmpdir(), "ptc-bench-serve-"));
  const config = join(directory, "ptc.config.json");
  await writeFile(config, JSON.stringify({ server: { apiKeys: [LOAD_KEY], ...options.server } }));
  const served = await startServingCli([
    "serve",
    "--config",
    config,
    "--port",
    "0",
    "--store",
    options.store,
    "--node-id",
    options.nodeId,
  ]);
  return {
    url: served.url,
    pid: served.child.pid as number,
    nodeId: options.nodeId,
    stderr: served.stderr,
    async stop() {
      const code = await served.stop();
      await rm(directory, { recursive: true, force: true });
      return code;
    },
  };
}

/** Many sockets, a new connection per request, as from separate clients. */
export const clientAgent = new Agent({ keepAlive: false, maxSockets: 512 });

export interface HealthBody {
  pool: { warm: number; live: number };
  store: { kind: string; node_id?: string };
  leases?: Array<{ container_id: string; epoch: number }>;
}

export async function readHealth(url: string): Promise<HealthBody> {
  const answer = await httpJson(clientAgent, "GET", `${url}/health`);
  if (answer.status !== 200) throw new Error(`/health answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  return answer.json as HealthBody;
}

/** Waits until `ready(health)` holds, or fails after `timeoutMs` with what it last saw. */
export async function waitForHealth(
  url: string,
  ready: (health: HealthBody) => boolean,
  timeoutMs: number,
  what: string,
): Promise<HealthBody> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const health = await readHealth(url);
    if (ready(health)) return health;
    if (performance.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms (${JSON.stringify(health)})`);
    await sleep(100);
  }
}

/** Log lines of one message (`"msg":"request"`, `"msg":"container-evicted"`) on a server's stderr. */
export function logLines(server: DurableServe, message: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of server.stderr().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.msg === message) lines.push(parsed);
    } catch {}
  }
  return lines;
}

export interface ExecutionState {
  id?: string;
  status?: string;
  container_id?: string;
  pending_tool_calls?: Array<{ id: string; name: string; input: Record<string, unknown> }>;
  result?: { stdout?: string; error?: { code: string; message: string } | null } | null;
  error?: { code?: string; message?: string };
}

const FINAL = new Set(["completed", "failed", "cancelled"]);

export function isFinal(state: ExecutionState): boolean {
  return FINAL.has(state.status ?? "");
}

/** What a client did to get one answer: the answer, and the refusals with `Retry-After` it waited out first. */
export interface Answered {
  answer: HttpAnswer;
  state: ExecutionState;
  /** 429s and 503s retried. */
  retries: number;
  /** Of those, 503s (`node_unreachable`, `container_lease_lost`: a container moving or a lease in doubt). */
  unavailable: number;
}

/**
 * A request, sent again after `Retry-After` (plus up to 0.5 s of jitter) while it is refused with a 429, or
 * with a 503 that carries `Retry-After` (docs/durability.md: the retry finds the container's node).
 */
export async function requestRetrying(method: string, url: string, body?: unknown): Promise<Answered> {
  let unavailable = 0;
  for (let retries = 0; ; retries++) {
    const answer = await httpJson(clientAgent, method, url, body);
    const retryAfter = answer.headers["retry-after"];
    if (answer.status === 429 || (answer.status === 503 && retryAfter !== undefined)) {
      if (answer.status === 503) unavailable++;
      await sleep(Number(retryAfter ?? 1) * 1000 + Math.random() * 500);
      continue;
    }
    return { answer, state: (answer.json ?? {}) as ExecutionState, retries, unavailable };
  }
}
