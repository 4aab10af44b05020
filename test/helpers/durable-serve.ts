/**
 * Durable `ptc serve` nodes as the durability tests drive them: real child processes on a real store, with
 * counting handlers (test/fixtures/counting-tools.mjs) whose log file outlives a node killed with SIGKILL.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import { type ServingCli, startServingCli } from "./server.js";

export const DURABLE_KEY = "durable-key-0123456789";
const COUNTING_TOOLS = fileURLToPath(new URL("../fixtures/counting-tools.mjs", import.meta.url));

export interface WireExecution {
  id: string;
  status: string;
  container_id: string;
  pending_tool_calls: Array<{ id: string; name: string; input: Record<string, unknown> }>;
  result: null | { status: string; stdout: string; error: null | { code: string; message: string } };
  submitted?: Array<{ call_id: string; status: string }>;
}

export interface WireError {
  type: "error";
  error: { type: string; code: string; message: string };
}

export interface Answer<T = WireExecution> {
  status: number;
  json: T;
  headers: Headers;
}

/** A scratch directory: the handler log, the config file, the SQLite store. */
export function scratchDirectory(): string {
  return mkdtempSync(join(tmpdir(), "ptc-durable-"));
}

/**
 * Each node's sandbox pool: none kept warm; a sandbox starts when an execution needs one (and is reused after
 * it for the pool's idle time). These tests restart nodes often (kill -9), and each start warmed a whole pool
 * (the default two) that the next crash threw away, plus a refill after every execution: ~1.6 to 2 s of CPU per
 * sandbox start. Measured in a cgroup per file: executions-crash 72 -> 56 s of CPU, messages-crash 54 -> 41
 * (a pool of one saved next to nothing: the refill after each execution).
 */
const NODE_POOL = { size: 0 };

/** A config file with the durable settings these tests shorten (lease TTL, idle eviction). */
export function durableConfig(dir: string, server: Record<string, unknown>): string {
  const path = join(dir, `ptc.config.${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ server, pool: NODE_POOL }));
  return path;
}

export interface NodeOptions {
  store: string;
  /** The handler log: one line per handler call. */
  handlerLog: string;
  nodeId?: string;
  config?: string;
}

const started = new Set<ServingCli>();
after(async () => {
  for (const node of started) {
    if (node.child.signalCode === null && node.child.exitCode === null) {
      node.child.kill("SIGCONT");
      node.child.kill("SIGKILL");
    }
  }
});

/** `ptc serve --port 0 --store STORE --tools counting-tools.mjs`, ready once it listens. */
export async function startNode(options: NodeOptions): Promise<ServingCli> {
  const args = ["serve", "--port", "0", "--store", options.store, "--tools", COUNTING_TOOLS];
  if (options.nodeId) args.push("--node-id", options.nodeId);
  const dataDir = mkdtempSync(join(tmpdir(), "ptc-data-"));
  args.push("--config", options.config ?? durableConfig(dataDir, {}));
  const node = await startServingCli(args, {
    env: { ...process.env, PTC_API_KEYS: DURABLE_KEY, PTC_TEST_HANDLER_LOG: options.handlerLog, PTC_DATA_DIR: dataDir },
  });
  started.add(node);
  return node;
}

/** kill -9, and wait until the process is gone. */
export async function kill9(node: ServingCli): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = once(node.child, "exit");
  node.child.kill("SIGCONT");
  node.child.kill("SIGKILL");
  await exited;
}

/** A request to a node's API with the test key; the body parsed as JSON. */
export async function api<T = WireExecution>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", "x-api-key": DURABLE_KEY } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}

/** `POST /v1/executions`, asserting 200. */
export async function execute(url: string, body: Record<string, unknown>): Promise<WireExecution> {
  const answer = await api(url, "POST", "/v1/executions", { wait: 30, ...body });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json;
}

/** `POST /v1/executions/ID/tool_results` with `{call_id: value}` pairs, asserting 200. */
export async function submit(
  url: string,
  executionId: string,
  results: Record<string, unknown>,
): Promise<WireExecution> {
  const answer = await submitRaw(url, executionId, results);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json;
}

export function submitRaw(url: string, executionId: string, results: Record<string, unknown>): Promise<Answer> {
  const list = Object.entries(results).map(([callId, value]) => ({ call_id: callId, value }));
  return api(url, "POST", `/v1/executions/${executionId}/tool_results`, { results: list, wait: 30 });
}

/** The pending call whose input `q` is `q`. */
export function pendingCall(state: WireExecution, q: string): string {
  const found = state.pending_tool_calls.find((pending) => pending.input.q === q);
  assert.ok(found, `no pending call with q=${q}: ${JSON.stringify(state)}`);
  return found.id;
}

/** The handler calls so far, as "name {input}" lines. */
export function handlerCalls(log: string): string[] {
  try {
    return readFileSync(log, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

export interface Health {
  containers: number;
  store: { kind: string; node_id: string; url: string };
  leases: Array<{ container_id: string; epoch: number }>;
}

export async function health(url: string): Promise<Health> {
  const response = await fetch(`${url}/health`);
  return (await response.json()) as Health;
}

/** A client tool `ask` (no handler: the client answers it). */
export const ASK = { name: "ask", input_schema: { type: "object", properties: { q: { type: "string" } } } };

/** Polls `check` every 100 ms until it returns true, failing after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
