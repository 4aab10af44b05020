import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { ServerApp } from "./create-server-app.js";
import type { Logger } from "./logger.js";

/** Loopback only unless configured otherwise. */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8787;
/** On SIGINT/SIGTERM, running executions get this long to finish before they are cancelled. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** After executions have ended, responses still being written get this long before sockets are cut. */
const RESPONSE_DRAIN_MS = 2_000;

export interface RunningServer {
  /** `http://HOST:PORT` as bound (port 0 resolved). */
  url: string;
  server: Server;
  /** Stops accepting, lets executions finish for `graceMs`, cancels the rest, closes the socket. */
  close(graceMs?: number): Promise<void>;
}

export interface StartServerOptions {
  serverApp: ServerApp;
  host?: string;
  port?: number;
  logger: Logger;
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const listener = getRequestListener(options.serverApp.app.fetch);
  const server = createServer((incoming, outgoing) => void listener(incoming, outgoing));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  let closing: Promise<void> | undefined;

  async function close(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    options.logger.log("info", "shutting down", { grace_ms: graceMs });
    // Still listening during the grace period: clients must be able to answer their paused
    // executions' tool calls. New executions and messages get 503 meanwhile, /health too.
    await options.serverApp.shutdown(graceMs);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Long polls and event streams answer as their executions end; give those responses a moment.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, RESPONSE_DRAIN_MS)))]);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
  }

  return {
    url,
    server,
    close(graceMs) {
      closing ??= close(graceMs);
      return closing;
    },
  };
}
