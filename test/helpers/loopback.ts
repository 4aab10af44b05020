import { after } from "node:test";
import { Hono } from "hono";
import { type LoopbackServer, serveOnLoopback } from "./server.js";

const servers: LoopbackServer[] = [];
after(() => Promise.all(servers.splice(0).map((server) => server.close())));

/** Serves a Hono app on a loopback port: real HTTP, as a client would see it. Closed after the file's tests. */
export async function listen(app: Hono): Promise<string> {
  const server = await serveOnLoopback(app.fetch);
  servers.push(server);
  return server.url;
}

/** A loopback address where nothing listens: a server that is down. */
export async function deadUrl(): Promise<string> {
  const url = await listen(new Hono());
  await servers.pop()?.close();
  return url;
}
