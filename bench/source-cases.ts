// Per-call cost of a tool reached through each kind of source, measured in one run: an in-process
// handler, an MCP server over stdio (the real @modelcontextprotocol/server-everything), and a
// ptc-tools/1 HTTP server on loopback (the example Hono server).
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { createToolServerApp } from "../examples/tool-server/app.js";
import { createEngine, type Engine } from "../src/engine/engine.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import { HttpToolSource } from "../src/sources/http/http-tool-source.js";
import { McpToolSource } from "../src/sources/mcp/mcp-tool-source.js";
import { openToolSources, type ToolSet } from "../src/sources/tool-set.js";
import { check } from "./engine-cases.js";
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

async function perCall(engine: Engine, functionName: string, calls: number, repeats: number): Promise<number[]> {
  const container = `source-${functionName}`;
  check(await engine.execute({ code: script(functionName, 5), container }).result, `${functionName} warm-up`, "ok\n");
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    const limits = { maxToolCalls: calls * 2 };
    check(await engine.execute({ code: script(functionName, calls), container, limits }).result, functionName, "ok\n");
    samples.push((elapsedMs(started) * 1000) / calls);
  }
  engine.closeContainer(container);
  return samples;
}

export async function sourceCalls(calls: number, repeats: number): Promise<Measurement[]> {
  const http = serve({
    fetch: createToolServerApp({ tools: [echoServerTool()] }).fetch,
    hostname: "127.0.0.1",
    port: 0,
  });
  await new Promise<void>((ready) => http.once("listening", () => ready()));
  const { port } = http.address() as AddressInfo;
  let toolSet: ToolSet | undefined;
  let engine: Engine | undefined;
  try {
    toolSet = await openToolSources([
      new McpToolSource("everything", { command: process.execPath, args: [EVERYTHING, "stdio"] }),
      new HttpToolSource("bench", { url: `http://127.0.0.1:${port}` }),
    ]);
    if (toolSet.failures.length > 0) throw toolSet.failures[0]?.error;
    engine = createEngine({ pool: { size: 1 }, tools: [echoHandler, ...toolSet.tools] });
    const handler = await perCall(engine, "echo", calls, repeats);
    const mcp = await perCall(engine, "everything__echo", calls, repeats);
    const server = await perCall(engine, "http_echo", calls, repeats);
    return [
      summarize("sourceHandler", `per call, in-process handler (${calls} sequential)`, "µs", handler),
      summarize("sourceMcpStdio", `per call, MCP stdio server-everything echo`, "µs", mcp),
      summarize("sourceHttp", `per call, ptc-tools/1 HTTP server on loopback`, "µs", server),
    ];
  } finally {
    await engine?.close();
    await toolSet?.close();
    await new Promise((done) => http.close(done));
  }
}

function echoServerTool() {
  return {
    definition: {
      name: "http_echo",
      description: "returns its message",
      input_schema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
      allowed_callers: ["code_execution"],
    },
    run: (input: Record<string, unknown>) => `Echo: ${String(input.message)}`,
  };
}
