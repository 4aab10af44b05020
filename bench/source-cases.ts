// Per-call cost of a tool reached through each kind of source, measured in one run: an in-process
// handler, an MCP server over stdio (the real @modelcontextprotocol/server-everything), and a
// ptc-tools/1 HTTP server on loopback (the example Hono server), in a process of its own as deployed and,
// for comparison with the figures before that change of method, on the bench's own event loop. The
// sources take turns, one execution each per round, so that the machine's load falls on all alike.
import { resolve } from "node:path";
import { createEngine, type Engine } from "../src/engine/engine.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import { HttpToolSource } from "../src/sources/http/http-tool-source.js";
import { McpToolSource } from "../src/sources/mcp/mcp-tool-source.js";
import { openToolSources, type ToolSet } from "../src/sources/tool-set.js";
import {
  ECHO_TOOL,
  type EchoServer,
  IN_PROCESS_ECHO_TOOL,
  serveEchoInProcess,
  spawnEchoServer,
} from "./echo-tool-server.js";
import { check } from "./engine-cases.js";
import { hostCpuMs, treeCpuMs } from "./proc-tree.js";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

const EVERYTHING = resolve("node_modules/@modelcontextprotocol/server-everything/dist/index.js");

const echoHandler: ToolDefinition = {
  name: "echo",
  description: "returns its message",
  inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  allowedCallers: ["code_execution"],
  handler: (input) => `Echo: ${String(input.message)}`,
};

/** The same call shape for every source: a string in, a string back. */
function script(functionName: string, calls: number): string {
  return `for i in range(${calls}):
    r = await ${functionName}(message=str(i))
    assert str(i) in r, r
print("ok")`;
}

interface Case {
  functionName: string;
  /** µs per call: wall, the host's CPU, and the tool server's own process's CPU when it has one. */
  wall: number[];
  hostCpu: number[];
  serverCpu: number[];
  serverPid?: number | undefined;
}

async function round(engine: Engine, each: Case, calls: number): Promise<void> {
  const container = `source-${each.functionName}`;
  const server0 = each.serverPid === undefined ? 0 : treeCpuMs(each.serverPid);
  const host0 = hostCpuMs();
  const started = performance.now();
  const limits = { maxToolCalls: calls * 2 };
  const code = script(each.functionName, calls);
  check(await engine.execute({ code, container, limits }).result, each.functionName, "ok\n");
  each.wall.push((elapsedMs(started) * 1000) / calls);
  each.hostCpu.push(((hostCpuMs() - host0) * 1000) / calls);
  if (each.serverPid !== undefined) each.serverCpu.push(((treeCpuMs(each.serverPid) - server0) * 1000) / calls);
}

export async function sourceCalls(calls: number, repeats: number): Promise<Measurement[]> {
  const servers: EchoServer[] = [];
  let toolSet: ToolSet | undefined;
  let engine: Engine | undefined;
  try {
    const own = await spawnEchoServer();
    servers.push(own);
    const shared = await serveEchoInProcess();
    servers.push(shared);
    toolSet = await openToolSources([
      new McpToolSource("everything", { command: process.execPath, args: [EVERYTHING, "stdio"] }),
      new HttpToolSource("own", { url: own.url }),
      new HttpToolSource("shared", { url: shared.url }),
    ]);
    if (toolSet.failures.length > 0) throw toolSet.failures[0]?.error;
    engine = createEngine({ pool: { size: 1 }, tools: [echoHandler, ...toolSet.tools] });
    const cases: Case[] = ["echo", "everything__echo", ECHO_TOOL, IN_PROCESS_ECHO_TOOL].map((functionName) => ({
      functionName,
      wall: [],
      hostCpu: [],
      serverCpu: [],
      ...(functionName === ECHO_TOOL ? { serverPid: own.pid } : {}),
    }));
    for (const each of cases) {
      const container = `source-${each.functionName}`;
      check(await engine.execute({ code: script(each.functionName, 5), container }).result, "warm-up", "ok\n");
    }
    for (let r = 0; r < repeats; r++) for (const each of cases) await round(engine, each, calls);
    for (const each of cases) engine.closeContainer(`source-${each.functionName}`);
    const [handler, mcp, http, httpShared] = cases as [Case, Case, Case, Case];
    return [
      summarize("sourceHandler", `per call, in-process handler (${calls} sequential)`, "µs", handler.wall),
      summarize("sourceHandlerHostCpu", "per call, in-process handler, host CPU", "µs", handler.hostCpu),
      summarize("sourceMcpStdio", `per call, MCP stdio server-everything echo`, "µs", mcp.wall),
      summarize("sourceHttp", `per call, ptc-tools/1 HTTP server on loopback, own process`, "µs", http.wall),
      summarize("sourceHttpHostCpu", "per call, HTTP server in its own process, host CPU", "µs", http.hostCpu),
      summarize("sourceHttpServerCpu", "per call, HTTP server in its own process, its CPU", "µs", http.serverCpu),
      summarize("sourceHttpInProcess", `per call, HTTP server on the bench's event loop`, "µs", httpShared.wall),
      summarize(
        "sourceHttpInProcessHostCpu",
        "per call, HTTP server on the bench's loop, host CPU",
        "µs",
        httpShared.hostCpu,
      ),
    ];
  } finally {
    await engine?.close();
    await toolSet?.close();
    await Promise.all(servers.map((server) => server.close()));
  }
}
