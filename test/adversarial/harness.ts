import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after } from "node:test";
import { createEngine, type Engine, type EngineOptions } from "../../src/engine/engine.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createServerApp, type ServerApp, type ServerAppOptions } from "../../src/server/http/create-server-app.js";
import { createJsonLogger } from "../../src/server/http/logger.js";
import { type RunningServer, startServer } from "../../src/server/http/start-server.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { codeTool, delay } from "../helpers/engine.js";

/**
 * The adversarial suite's harness: a real `ptc serve` app (real engine, real sandboxes) on a loopback
 * socket, reached over HTTP like any client. `underAttack` wraps every case and asserts what must hold
 * whatever the attack: /health answers, a benign execution running at the same time is correct, no
 * sandbox process outlives its owner, and no secret reaches a response or a log line.
 */

/** Secrets the attacks go after: in the host's environment, and the server's own API keys. */
export const CANARY = `ptc-canary-${process.pid}-${Date.now().toString(36)}`;
process.env.PTC_ADVERSARIAL_SECRET = CANARY;
export const KEY = `key-adversarial-${process.pid}-0123456789`;
export const OTHER_KEY = `key-other-${process.pid}-9876543210`;

export interface WireToolCall {
  id: string;
  name: string;
  ok: boolean;
  resolved_by: string;
  input: Record<string, unknown>;
  error?: { code: string; message: string };
}

export interface WireResult {
  status: "completed" | "failed" | "cancelled";
  stdout: string;
  stderr: string;
  error: null | { code: string; type: string; message: string; traceback?: string; line?: number };
  tool_calls: WireToolCall[];
  limits_hit: string[];
  truncated: { stdout?: boolean; stderr?: boolean } | boolean | null;
  container_reset: boolean;
}

export interface WireExecution {
  type: "execution";
  id: string;
  status: "queued" | "running" | "paused" | "completed" | "failed" | "cancelled";
  container_id: string;
  pending_tool_calls: Array<{ id: string; name: string; input: Record<string, unknown> }>;
  result: WireResult | null;
  submitted?: Array<{ call_id: string; status: string }>;
}

export interface WireErrorBody {
  type: "error";
  error: { type: string; code: string; message: string };
}

export interface Harness {
  url: string;
  engine: Engine;
  serverApp: ServerApp;
  running: RunningServer;
  /** Every line the server logged. */
  logs: string[];
  /** The container the benign executions run in. */
  benignContainer: string;
  /** Containers seen in responses since the last `underAttack` ended them. */
  containers: Set<string>;
  request(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; json: unknown; text: string; headers: Headers }>;
  /** `POST /v1/executions`, asserting 200. */
  execute(body: Record<string, unknown>, key?: string): Promise<WireExecution>;
  /** `GET /v1/executions/{id}`: the execution's record. */
  record(id: string, key?: string): Promise<WireExecution>;
}

export interface HarnessOptions {
  /** Server tools besides `double`, the benign execution's. */
  tools?: ToolDefinition[];
  engine?: Omit<EngineOptions, "tools">;
  server?: Partial<Omit<ServerAppOptions, "engine" | "owners" | "apiKeys" | "serverTools">>;
}

/** One harness per test file (sandboxes are real processes); closed after the file's tests. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tools = [codeTool("double", async (input) => ({ doubled: Number(input.n) * 2 })), ...(options.tools ?? [])];
  const engine = createEngine({ pool: { size: 2 }, ...options.engine, tools });
  const logs: string[] = [];
  const containers = new Set<string>();
  const benignContainer = { id: "" };
  const logger = createJsonLogger((line) => logs.push(line));
  const serverApp = createServerApp({
    engine,
    owners: new ResourceOwners(),
    apiKeys: [KEY, OTHER_KEY],
    serverTools: tools,
    logger,
    ...options.server,
    ...(options.engine?.limits ? { limits: options.engine.limits } : {}),
  });
  const running = await startServer({ serverApp, port: 0, logger });
  after(async () => {
    await running.close(0);
    await engine.close();
  });
  await engine.warmUp();

  async function request(method: string, path: string, body?: unknown, key = KEY) {
    const init: RequestInit = { method, headers: { "content-type": "application/json", "x-api-key": key } };
    if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
    const response = await fetch(`${running.url}${path}`, init);
    const text = await response.text();
    assertNoSecret(text, `${method} ${path}`);
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: response.status, json, text, headers: response.headers };
  }
  async function execute(body: Record<string, unknown>, key = KEY): Promise<WireExecution> {
    const { status, json, text } = await request("POST", "/v1/executions", { wait: 60, ...body }, key);
    assert.equal(status, 200, text.slice(0, 500));
    const state = json as WireExecution;
    if (state.container_id !== benignContainer.id) containers.add(state.container_id);
    return state;
  }
  async function record(id: string, key = KEY): Promise<WireExecution> {
    const { status, json, text } = await request("GET", `/v1/executions/${id}`, undefined, key);
    assert.equal(status, 200, text.slice(0, 500));
    return json as WireExecution;
  }
  const harness: Harness = {
    url: running.url,
    engine,
    serverApp,
    running,
    logs,
    benignContainer: "",
    containers,
    request,
    execute,
    record,
  };
  const first = await execute({ code: "pass" });
  containers.delete(first.container_id);
  benignContainer.id = first.container_id;
  harness.benignContainer = first.container_id;
  return harness;
}

/** The benign execution that runs beside every attack, in a container of its own. */
const BENIGN = [
  "import asyncio",
  "total = 0",
  "for i in range(6):",
  "    total += (await double(n=i))['doubled']",
  "    await asyncio.sleep(0.02)",
  "print('benign', total)",
].join("\n");

/**
 * Runs `attack` while a benign execution runs beside it, then asserts the invariants every case shares:
 * the benign result is right, /health answers, no sandbox process is left that the engine does not own,
 * and no secret reached a log line. Returns what `attack` returned.
 */
export async function underAttack<T>(harness: Harness, attack: () => Promise<T>): Promise<T> {
  const benign = harness.execute({ code: BENIGN, container: harness.benignContainer });
  const [outcome, benignState] = await Promise.all([attack(), benign]);
  assert.equal(benignState.status, "completed", JSON.stringify(benignState.result?.error));
  assert.equal(benignState.result?.stdout, "benign 30\n");
  const health = await fetch(`${harness.url}/health`);
  assert.equal(health.status, 200, "the health endpoint answers");
  assert.equal(((await health.json()) as { status: string }).status, "ok");
  for (const container of [...harness.containers]) await endContainer(harness, container);
  harness.containers.clear();
  await assertNoOrphans(harness.engine);
  for (const line of harness.logs) assertNoSecret(line, "server log");
  return outcome;
}

const STABLE_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * A finished execution failed the way it should: its result and its record (`GET`) carry the stable
 * code, a message, and nothing from the host (no JS stack, no host path, no secret).
 */
export async function assertFailedWith(
  harness: Harness,
  state: WireExecution,
  code: string,
  status: "failed" | "cancelled" = "failed",
): Promise<WireResult> {
  assert.equal(state.status, status, JSON.stringify(state.result?.error ?? state.status));
  const error = state.result?.error;
  assert.ok(error, "the result has an error");
  assert.ok(STABLE_CODES.has(error.code), `stable code, got ${error.code}`);
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.length > 0, "the error has a message");
  assertNoHostLeak(JSON.stringify(state.result));
  const recorded = await harness.record(state.id);
  assert.equal(recorded.status, status, "the record shows the outcome");
  assert.equal(recorded.result?.error?.code, code, "the record shows the code");
  return recorded.result as WireResult;
}

/** A finished execution completed, and its record says so with the same stdout. */
export async function assertCompleted(harness: Harness, state: WireExecution): Promise<WireResult> {
  assert.equal(state.status, "completed", JSON.stringify(state.result?.error ?? state.status));
  assertNoHostLeak(JSON.stringify(state.result));
  const recorded = await harness.record(state.id);
  assert.equal(recorded.status, "completed");
  assert.equal(recorded.result?.stdout, state.result?.stdout);
  return recorded.result as WireResult;
}

/** No host JS stack frame, no path of the host's checkout or node_modules, no secret. */
export function assertNoHostLeak(text: string): void {
  assert.doesNotMatch(text, /\bat .+\((?:file:\/\/|\/)[^)]*:\d+:\d+\)/, "no host stack frame");
  assert.doesNotMatch(text, /node:internal|node_modules\/(?!pyodide)/, "no host module path");
  assert.ok(!text.includes(process.cwd()), "no host checkout path");
  assertNoSecret(text, "result");
}

export function assertNoSecret(text: string, where: string): void {
  assert.ok(!text.includes(CANARY), `${where}: the environment canary leaked`);
  assert.ok(!text.includes(KEY) && !text.includes(OTHER_KEY), `${where}: an API key leaked`);
}

/** Sandbox processes that are children of this process. */
function sandboxChildren(): number[] {
  const pids: number[] = [];
  let children = "";
  for (const task of readdirSafe(`/proc/${process.pid}/task`)) {
    try {
      children += ` ${readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8")}`;
    } catch {}
  }
  for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    try {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      if (state !== "Z" && /pyodide[/\\]child\.(ts|js)/.test(commandLine)) pids.push(pid);
    } catch {}
  }
  return pids;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Every sandbox process under this one is a sandbox the engine still owns (warm, or a live container's). */
export async function assertNoOrphans(engine: Engine, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let strays: number[] = [];
  while (Date.now() < deadline) {
    const owned = new Set(engine.sandboxPids());
    const seen = sandboxChildren();
    // The scan must see the engine's own sandboxes, or it would find no stray either.
    assert.ok(owned.size === 0 || seen.some((pid) => owned.has(pid)), "the process scan sees the sandboxes");
    strays = seen.filter((pid) => !owned.has(pid));
    if (strays.length === 0) return;
    await delay(50);
  }
  assert.fail(`sandbox processes left behind: ${strays.join(", ")}`);
}

/** Ends a container through the API and checks its sandbox is gone with it. */
export async function endContainer(harness: Harness, containerId: string): Promise<void> {
  const pid = harness.engine.inspectContainer(containerId)?.sandboxPid;
  const { status } = await harness.request("DELETE", `/v1/containers/${containerId}`);
  assert.ok(status === 200 || status === 404 || status === 410, `DELETE container: ${status}`);
  if (pid !== undefined) {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && isAlive(pid)) await delay(20);
    assert.ok(!isAlive(pid), `the container's sandbox ${pid} was killed`);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    return state !== "Z";
  } catch {
    return false;
  }
}
