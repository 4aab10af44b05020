import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

/** Not 8787 (`ptc serve`) nor 8788 (the example tool server), so all three run side by side. */
export const DEFAULT_MCP_HTTP_PORT = 8789;
export const MCP_HTTP_PATH = "/mcp";
export const DEFAULT_MAX_SESSIONS = 64;
/** A session nobody has used for this long is closed (clients reconnect with a new initialize). */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;

export interface McpHttpOptions {
  /** 0 picks a free port. Default `DEFAULT_MCP_HTTP_PORT`. */
  port?: number;
  /** Loopback only by default: anything that can reach the port can run code against the tools. */
  host?: string;
  maxSessions?: number;
  sessionIdleMs?: number;
  log?: (line: string) => void;
}

export interface McpHttpServer {
  readonly url: string;
  readonly port: number;
  sessions(): number;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastUsed: number;
}

function reply(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) return;
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * Streamable HTTP at `/mcp`, stateful: each session (created by an `initialize` POST) gets its own SDK server
 * from `createServer`, so progress notifications and `notifications/cancelled` reach the request they are about.
 */
export async function serveMcpHttp(
  createMcpServer: () => Server,
  options: McpHttpOptions = {},
): Promise<McpHttpServer> {
  const host = options.host ?? "127.0.0.1";
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sessions = new Map<string, Session>();
  let port = 0;

  const closeSession = (id: string) => {
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    void session.server.close().catch(() => {});
  };

  // DNS rebinding: a web page may make a browser send requests to 127.0.0.1; refuse foreign Host/Origin.
  const authority = host.includes(":") ? `[${host}]` : host;
  const localAuthority = (value: string | undefined) =>
    value !== undefined &&
    [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${authority}:${port}`].includes(value);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== MCP_HTTP_PATH) return reply(response, 404, `not found: the MCP endpoint is ${MCP_HTTP_PATH}`);
    const origin = request.headers.origin;
    if (
      !localAuthority(request.headers.host) ||
      (origin !== undefined && !localAuthority(origin.replace(/^https?:\/\//, "")))
    ) {
      return reply(response, 403, "forbidden host or origin");
    }
    const sessionId = request.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) return reply(response, 404, "session not found");
      session.lastUsed = Date.now();
      return await session.transport.handleRequest(request, response);
    }
    if (request.method !== "POST") return reply(response, 400, "missing mcp-session-id header");
    if (sessions.size >= maxSessions) return reply(response, 503, "too many sessions");
    const server = createMcpServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, lastUsed: Date.now() });
      },
      onsessionclosed: (id) => closeSession(id),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response);
    // Not an initialize request (the transport answered 400): nothing will ever use this pair again.
    if (transport.sessionId === undefined || !sessions.has(transport.sessionId)) await server.close();
  }

  const http = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(`ptc mcp: HTTP request failed: ${error instanceof Error ? error.message : String(error)}`);
      reply(response, 500, "internal error");
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? DEFAULT_MCP_HTTP_PORT, host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  port = (http.address() as AddressInfo).port;
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [id, session] of sessions) if (session.lastUsed < cutoff) closeSession(id);
    },
    Math.min(idleMs, 60_000),
  );
  sweep.unref();

  return {
    url: `http://${authority}:${port}${MCP_HTTP_PATH}`,
    port,
    sessions: () => sessions.size,
    async close() {
      clearInterval(sweep);
      for (const id of [...sessions.keys()]) closeSession(id);
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
