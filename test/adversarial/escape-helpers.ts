import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before } from "node:test";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { assertCompleted, CANARY, type Harness, type WireResult } from "./harness.js";

/**
 * Helpers of the escape suites (escape.test.ts, javascript-escape.test.ts): what they set up alike, guarded
 * escape steps, and what must hold after each battery of them.
 */

/**
 * A loopback HTTP server only guest code would ever reach: it must see no connection at all. Listening
 * before the file's tests (`url` set then), closed after them.
 */
export function guestOnlyLoopback(): { url: string; connections: number } {
  const loopback = { url: "", connections: 0 };
  const server = createServer((_request, response) => response.end(CANARY));
  server.on("connection", () => loopback.connections++);
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    loopback.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  return loopback;
}

/** `admin_reset`, a direct-only tool (allowedCallers omitted: ["direct"]) code must never reach. */
export function adminResetTool(onCall: () => void, result = "reset"): ToolDefinition {
  return {
    name: "admin_reset",
    description: "direct callers only",
    inputSchema: { type: "object" },
    handler: () => {
      onCall();
      return result;
    },
  };
}

/** Requests the guest aims at the ptc server itself carry this path; the server must never see it. */
export const PROBE_PATH = `/escape-probe-${process.pid}`;

export interface WireIsolation {
  level: string;
  bubblewrap: boolean;
  network_blocked: boolean;
  code_generation_from_strings: boolean;
  filesystem: string;
}

/** One guarded step: BLOCKED when it raises, ESCAPED (with what it got) when it does not. */
export function step(label: string, body: string): string {
  return [
    "try:",
    ...body.split("\n").map((line) => `    ${line}`),
    `    print("ESCAPED ${label}", repr(_r)[:200])`,
    "except BaseException as _e:",
    `    print("BLOCKED ${label}", type(_e).__name__)`,
  ].join("\n");
}

export interface Battery {
  harness: Harness;
  /** Requests to PROBE_PATH the ptc server saw. */
  probeHits: number;
  /** A loopback server of the test that only guest code would reach. */
  loopback: { url: string; connections: number };
}

/**
 * Runs the steps as one execution; asserts every step ran and was blocked, nothing reached the
 * loopback server or the ptc server, and the isolation report matches the sandbox actually running.
 */
export async function attempt(battery: Battery, steps: Array<[string, string]>, tail = ""): Promise<WireResult> {
  const { harness, loopback } = battery;
  const connectionsBefore = loopback.connections;
  const probesBefore = battery.probeHits;
  const code = [...steps.map(([label, body]) => step(label, body)), tail]
    .join("\n")
    .replaceAll("LOOPBACK_URL", loopback.url)
    .replaceAll("LOOPBACK_PORT", loopback.url.split(":")[2] ?? "")
    .replaceAll("PTC_URL", `${harness.url}${PROBE_PATH}`)
    .replaceAll("PTC_PORT", harness.url.split(":")[2] ?? "");
  const state = await harness.execute({ code, limits: { wall_timeout_ms: 30_000 } });
  const result = await assertCompleted(harness, state);
  for (const [label] of steps) assert.match(result.stdout, new RegExp(`^BLOCKED ${label} `, "m"), result.stdout);
  assert.doesNotMatch(result.stdout, /ESCAPED/, result.stdout);
  assert.equal(loopback.connections, connectionsBefore, "the loopback server saw a connection from the guest");
  assert.equal(battery.probeHits, probesBefore, "the ptc server saw a request from the guest");
  assertIsolationTruthful(harness, state.container_id, (result as WireResult & { isolation: WireIsolation }).isolation);
  return result;
}

/** `isolation` says what runs: bubblewrap iff the sandbox's root process is bwrap (in its own netns). */
export function assertIsolationTruthful(harness: Harness, containerId: string, isolation: WireIsolation): void {
  assert.equal(isolation.bubblewrap, harness.engine.isolation.bubblewrap);
  assert.equal(isolation.level, isolation.bubblewrap ? "namespaces" : "permission-model");
  assert.equal(isolation.network_blocked, true);
  assert.equal(isolation.code_generation_from_strings, false);
  const pid = harness.engine.inspectContainer(containerId)?.sandboxPid;
  assert.ok(pid !== undefined, "the container's sandbox is alive");
  const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  assert.equal(/(^|\/)bwrap$/.test(commandLine[0] ?? ""), isolation.bubblewrap, commandLine.join(" "));
  assert.ok(
    commandLine.some((arg) => /^--(experimental-)?permission$/.test(arg)),
    "Node's permission model is on",
  );
  assert.ok(commandLine.includes("--disallow-code-generation-from-strings"));
  // The Node child itself (bubblewrap's own processes carry the same arguments).
  const node = [pid, ...descendants(pid)].find((p) => {
    const [command = "", ...args] = safeRead(`/proc/${p}/cmdline`).split("\0");
    return !/(^|\/)bwrap$/.test(command) && args.some((arg) => /pyodide[/\\]child\.(ts|js)$/.test(arg));
  });
  assert.ok(node !== undefined, "the sandbox's Node process is found");
  let namespace: string | undefined;
  try {
    namespace = readlinkSync(`/proc/${node}/ns/net`);
  } catch {}
  // Unreadable only where /proc hides other users' namespaces; the command line check above still holds.
  if (namespace !== undefined) assert.equal(namespace !== readlinkSync("/proc/self/ns/net"), isolation.bubblewrap);
}

function descendants(pid: number): number[] {
  const children = safeRead(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
