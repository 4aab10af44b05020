/**
 * Runs the example tool server on loopback:
 *   INVENTORY_TOKEN=secret npx tsx examples/tool-server/server.ts [--port 8788]
 * Port: `--port N`, else `PORT`, else 8788. Without INVENTORY_TOKEN it runs unauthenticated.
 */
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { type ServerType, serve } from "@hono/node-server";
import { createToolServerApp } from "./app.js";

export { createToolServerApp, type ToolServerOptions } from "./app.js";
export { createInventoryTools, type ServerCallContext, type ServerTool, ToolFailure } from "./inventory-tools.js";

export const DEFAULT_PORT = 8788;

function portFrom(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const index = argv.indexOf("--port");
  const raw = index >= 0 ? argv[index + 1] : env.PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`invalid port ${JSON.stringify(raw)}`);
  return port;
}

export function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): ServerType {
  const token = env.INVENTORY_TOKEN || undefined;
  if (token === undefined) console.warn("INVENTORY_TOKEN is not set: serving without authentication");
  const app = createToolServerApp(token === undefined ? {} : { token });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: portFrom(argv, env) }, (info: AddressInfo) => {
    console.log(`ptc-tools/1 server listening on http://127.0.0.1:${info.port} (GET /tools)`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return server;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
