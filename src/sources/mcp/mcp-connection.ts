import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerConfig } from "../../config/ptc-config.js";
import { OutputTail } from "./output-tail.js";

/** Time to start a server, initialize and list its tools, unless its config sets `connectTimeoutMs`. */
export const DEFAULT_MCP_CONNECT_TIMEOUT_MS = 30_000;

/** How long `close()` waits for an HTTP server to acknowledge the end of the session. */
const SESSION_END_WAIT_MS = 1_000;

// src/sources/mcp and dist/sources/mcp are both three levels below package.json.
const { version } = createRequire(import.meta.url)("../../../package.json") as { version: string };
/** How ptc introduces itself to MCP servers. */
const CLIENT_INFO = { name: "ptc", version };

export interface McpConnectOptions {
  /** Directory a relative `cwd` resolves against. */
  directory?: string;
  signal?: AbortSignal;
}

/**
 * One live session with one MCP server: the SDK client, its transport (a child process for stdio)
 * and the tail of the child's stderr. It never reconnects itself; `McpToolSource` decides that.
 */
export class McpConnection {
  readonly client: Client;
  readonly stderr: OutputTail;
  #transport: StdioClientTransport | StreamableHTTPClientTransport;
  #closedByPeer = false;
  #closing: Promise<void> | undefined;
  /** The server's tools, as listed when the connection opened. */
  tools: readonly Tool[] = [];

  private constructor(
    readonly server: string,
    config: McpServerConfig,
    directory: string | undefined,
  ) {
    this.stderr = new OutputTail();
    if ("command" in config) {
      const transport = new StdioClientTransport({
        command: config.command,
        args: config.args ?? [],
        env: { ...getDefaultEnvironment(), ...config.env },
        ...(config.cwd !== undefined ? { cwd: resolveCwd(config.cwd, directory) } : {}),
        // Kept for error messages instead of interleaving with ptc's own stderr.
        stderr: "pipe",
      });
      transport.stderr?.on("data", (chunk: Buffer | string) => this.stderr.push(chunk));
      this.#transport = transport;
    } else {
      this.#transport = new StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: { ...config.headers } },
      });
    }
    this.client = new Client(CLIENT_INFO, { capabilities: {} });
    // Fires before pending requests are rejected, so a failed call can tell a crash from an error.
    this.client.onclose = () => {
      if (this.#closing === undefined) this.#closedByPeer = true;
    };
    // Transport hiccups (a stray line on stdout, a failed notification) surface through the calls they affect.
    this.client.onerror = () => {};
  }

  /**
   * Starts (or reaches) the server, initializes the session and lists every tool, all within
   * `connectTimeoutMs`. On failure the child is killed and the error says why, with its stderr.
   */
  static async open(server: string, config: McpServerConfig, options: McpConnectOptions = {}): Promise<McpConnection> {
    const connection = new McpConnection(server, config, options.directory);
    const timeoutMs = config.connectTimeoutMs ?? DEFAULT_MCP_CONNECT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const request = () => ({
      timeout: Math.max(1, deadline - Date.now()),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      await connection.client.connect(connection.#transport, request());
      const tools: Tool[] = [];
      const cursors = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await connection.client.listTools(cursor === undefined ? {} : { cursor }, request());
        tools.push(...page.tools);
        cursor = page.nextCursor;
        // A server that hands out a cursor twice would be listed forever, its tools piling up until the timeout.
        if (cursor !== undefined && cursors.has(cursor)) {
          throw new Error(`tools/list returned the cursor ${JSON.stringify(cursor)} twice`);
        }
        if (cursor !== undefined) cursors.add(cursor);
      } while (cursor !== undefined);
      connection.tools = tools;
      return connection;
    } catch (error) {
      await connection.close();
      // The stderr pipe may still hold the last words of a server that just exited.
      await nextTurn();
      const reason = startFailure(error, config, timeoutMs);
      throw new McpStartError(reason, connection.describe(reason));
    }
  }

  /** False once the server went away on its own (a stdio child exited); then every request fails. */
  get alive(): boolean {
    return !this.#closedByPeer && this.#closing === undefined;
  }

  /** The stdio child's pid while it runs; null for HTTP servers. */
  get pid(): number | null {
    return this.#transport instanceof StdioClientTransport ? this.#transport.pid : null;
  }

  /** `message`, plus the server's recent stderr when there is any. */
  describe(message: string): string {
    const stderr = this.stderr.excerpt();
    return stderr === "" ? message : `${message}\nstderr of "${this.server}":\n${stderr}`;
  }

  /** Ends the session: the stdio transport closes stdin, then SIGTERM, then SIGKILL (2 s apart). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const transport = this.#transport;
      if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
        // Best effort: a server that does not answer must not hold up shutdown.
        const timer = new Promise<void>((done) => setTimeout(done, SESSION_END_WAIT_MS).unref());
        await Promise.race([transport.terminateSession().catch(() => {}), timer]);
      }
      await this.client.close().catch(() => {});
    })();
    return this.#closing;
  }
}

/** A failed start: `message` adds the server's stderr (for the operator) to `reason` (fit for a script). */
export class McpStartError extends Error {
  override readonly name = "McpStartError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function resolveCwd(cwd: string, directory: string | undefined): string {
  return isAbsolute(cwd) || directory === undefined ? cwd : resolve(directory, cwd);
}

function startFailure(error: unknown, config: McpServerConfig, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if ("command" in config && (code === "ENOENT" || code === "EACCES")) {
    return `cannot run ${JSON.stringify(config.command)} (${code === "ENOENT" ? "command not found" : "permission denied"})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  // The SDK's message has the response body but not the status, which is what tells 401 from 404.
  if (error instanceof StreamableHTTPError && error.code !== undefined) return `HTTP ${error.code}: ${message}`;
  if (/timed out/i.test(message)) return `no answer within ${timeoutMs} ms (${message})`;
  if (/connection closed/i.test(message)) return `the server exited before it was ready (${message})`;
  return message;
}
