// The bench's ptc-tools/1 server: the example Hono app (examples/tool-server) with one echo tool. Run as a
// script it serves on a loopback port in a process of its own and prints the port, which is what a
// deployment has; `serveEchoInProcess` serves it on the bench's own event loop instead (the method before
// issue 14's HTTP row was re-measured), where its CPU and the host's add up serially.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import { createToolServerApp } from "../examples/tool-server/app.js";
import type { ServerTool } from "../examples/tool-server/inventory-tools.js";

/** The tool's name in a server of its own; the in-process one takes another, so both fit in one engine. */
export const ECHO_TOOL = "http_echo";
export const IN_PROCESS_ECHO_TOOL = "http_echo_in_process";

function echoServerTool(name: string): ServerTool {
  return {
    definition: {
      name,
      description: "returns its message",
      input_schema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
      allowed_callers: ["code_execution"],
    },
    run: (input) => `Echo: ${String(input.message)}`,
  };
}

export interface EchoServer {
  url: string;
  /** The server's process id when it runs in a process of its own. */
  pid?: number;
  close(): Promise<void>;
}

async function listen(tool: string): Promise<{ port: number; close(): Promise<void> }> {
  const app = createToolServerApp({ tools: [echoServerTool(tool)] });
  const http = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await once(http, "listening");
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((done) => http.close(() => done())),
  };
}

export async function serveEchoInProcess(): Promise<EchoServer> {
  const { port, close } = await listen(IN_PROCESS_ECHO_TOOL);
  return { url: `http://127.0.0.1:${port}`, close };
}

/** This file as a script, under the bench's own Node and loader (tsx), in a process of its own. */
export async function spawnEchoServer(): Promise<EchoServer> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const [line] = (await Promise.race([once(child.stdout ?? child, "data"), exited])) as [Buffer | number];
  const port = Number(String(line).trim());
  if (!Buffer.isBuffer(line) || !Number.isInteger(port))
    throw new Error(`the echo tool server did not start (${line})`);
  return {
    url: `http://127.0.0.1:${port}`,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    close: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await listen(ECHO_TOOL);
  process.stdout.write(`${port}\n`);
  process.once("SIGTERM", () => process.exit(0));
}
