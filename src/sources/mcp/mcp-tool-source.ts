import { McpError, ErrorCode as McpErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerConfig } from "../../config/ptc-config.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { JsonSchema } from "../../protocol/json-schema.js";
import type { ToolCallContext, ToolCallerSpelling } from "../../protocol/tool.js";
import type { SourceToolDefinition, ToolSource } from "../tool-source.js";
import { McpConnection, McpStartError } from "./mcp-connection.js";
import { mcpServerPrefix, nameMcpTools } from "./mcp-naming.js";
import { convertMcpResult } from "./mcp-results.js";

export interface McpToolSourceOptions {
  /** Directory a stdio server's relative `cwd` resolves against. */
  directory?: string;
}

const DEFAULT_CALLERS: readonly ToolCallerSpelling[] = ["code_execution"];

/** How long a call that timed out in the SDK waits for the engine's own timeout to fire. */
const TIMEOUT_HANDOVER_MS = 100;

/**
 * One MCP server (stdio or streamable HTTP) as a tool source. It connects on the first `listTools()`
 * (ptc's start-up) and caches the list; each tool is exposed as `{server}__{tool}` (see
 * mcp-naming.ts) and its results are converted as described in mcp-results.ts.
 *
 * If the server goes away (a stdio child crashes), the next call restarts it once and is sent to the
 * new session; a call in flight at the crash fails, since it may already have had effects. A second
 * crash leaves the source failed: every later call fails with an error naming the server.
 *
 * Errors of calls reach the script (and the model): they name the server and what happened, never the
 * server's stderr, which may hold its stack traces, host paths and secrets. The stderr goes only into
 * start-up failures, which the operator sees, and stays readable as `stderr`.
 */
export class McpToolSource implements ToolSource {
  /** The server part of this source's tool names. */
  readonly prefix: string;
  #connection: McpConnection | undefined;
  #starting: Promise<readonly SourceToolDefinition[]> | undefined;
  #restarting: Promise<McpConnection> | undefined;
  #tools: readonly SourceToolDefinition[] | undefined;
  /** ptc name → the server's name. */
  #names = new Map<string, string>();
  #restarted = false;
  #failure: PtcError | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly config: McpServerConfig,
    readonly options: McpToolSourceOptions = {},
  ) {
    this.prefix = mcpServerPrefix(name);
  }

  /** The pid of the running stdio server, or null (HTTP, not started, exited). */
  get pid(): number | null {
    return this.#connection?.pid ?? null;
  }

  /** The last ~4 KB the current stdio server wrote to stderr. */
  get stderr(): string {
    return this.#connection?.stderr.text() ?? "";
  }

  listTools(options: { signal?: AbortSignal } = {}): Promise<readonly SourceToolDefinition[]> {
    if (this.#tools !== undefined) return Promise.resolve(this.#tools);
    if (this.#closing !== undefined) return Promise.reject(this.#closedError());
    // A failed start is not cached: a later listTools() tries again.
    this.#starting ??= this.#start(options.signal).finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async callTool(name: string, input: Record<string, unknown>, context: ToolCallContext): Promise<unknown> {
    if (this.#tools === undefined) await this.listTools({ signal: context.signal });
    const tool = this.#names.get(name);
    if (tool === undefined) {
      throw new PtcError(ErrorCode.ToolNotFound, `MCP server "${this.name}" has no tool ${JSON.stringify(name)}`);
    }
    const connection = await this.#live();
    let result: Awaited<ReturnType<McpConnection["client"]["callTool"]>>;
    try {
      result = await connection.client.callTool({ name: tool, arguments: input }, undefined, {
        signal: context.signal,
        timeout: Math.max(1, context.deadline - Date.now()),
      });
    } catch (error) {
      if (isRequestTimeout(error)) {
        // The engine's timer for the same deadline may fire a tick after the SDK's: give it the chance to
        // settle the call itself, so the script sees ToolTimeoutError rather than a plain ToolError.
        await abortOf(context.signal, TIMEOUT_HANDOVER_MS);
      }
      throw this.#callFailure(error, connection, tool, context);
    }
    return convertMcpResult(result, { server: this.name, tool });
  }

  /** Closes the session and stops the stdio server (stdin closed, then SIGTERM, then SIGKILL). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A start or restart in flight finishes first, then sees the source closed and closes its connection.
      await Promise.allSettled([this.#starting, this.#restarting]);
      await this.#connection?.close();
    })();
    return this.#closing;
  }

  async #start(signal: AbortSignal | undefined): Promise<readonly SourceToolDefinition[]> {
    let connection: McpConnection;
    try {
      connection = await this.#open(signal);
    } catch (error) {
      if (PtcError.is(error)) throw error;
      // For the operator (ptc's start-up): the message keeps the server's stderr.
      const reason = error instanceof Error ? error.message : String(error);
      throw new PtcError(ErrorCode.ToolError, `MCP server "${this.name}" failed to start: ${reason}`, {
        server: this.name,
      });
    }
    const callers = (this.config.allowedCallers ?? DEFAULT_CALLERS) as readonly ToolCallerSpelling[];
    const byName = new Map(connection.tools.map((tool) => [tool.name, tool]));
    this.#names = nameMcpTools(
      this.prefix,
      connection.tools.map((tool) => tool.name),
    );
    const tools: SourceToolDefinition[] = [];
    for (const [name, original] of this.#names) {
      const tool = byName.get(original);
      if (tool === undefined) continue;
      tools.push({
        name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        inputSchema: tool.inputSchema as JsonSchema,
        ...(tool.outputSchema !== undefined ? { outputSchema: tool.outputSchema as JsonSchema } : {}),
        allowedCallers: callers,
      });
    }
    this.#tools = tools;
    return tools;
  }

  /** Starts a session; throws McpConnection's error as it is, or the closed error. */
  async #open(signal: AbortSignal | undefined): Promise<McpConnection> {
    const connection = await McpConnection.open(this.name, this.config, {
      ...(this.options.directory !== undefined ? { directory: this.options.directory } : {}),
      ...(signal ? { signal } : {}),
    });
    if (this.#closing !== undefined) {
      await connection.close();
      throw this.#closedError();
    }
    this.#connection = connection;
    return connection;
  }

  /** The session to send a call on: the current one, or a restarted one if the server went away. */
  async #live(): Promise<McpConnection> {
    if (this.#closing !== undefined) throw this.#closedError();
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#restarting !== undefined) return await this.#restarting;
    const current = this.#connection;
    if (current?.alive) return current;
    if (this.#restarted) {
      throw this.#fail(`MCP server "${this.name}" exited again after a restart; its tools are unavailable`);
    }
    this.#restarted = true;
    // The old session is already gone; this only releases what the SDK still holds for it.
    void current?.close();
    // Not tied to the caller's signal: other calls may be waiting for the same restart.
    this.#restarting = this.#open(undefined)
      .catch((error: unknown) => {
        // Reported to the script: the reason without the server's stderr.
        const reason = error instanceof McpStartError ? error.reason : toError(error).message;
        throw this.#fail(`MCP server "${this.name}" exited and could not be restarted: ${reason}`);
      })
      .finally(() => {
        this.#restarting = undefined;
      });
    return await this.#restarting;
  }

  #callFailure(error: unknown, connection: McpConnection, tool: string, context: ToolCallContext): Error {
    // The engine aborted the call (its timeout, a cancel): keep its reason, it already settled the call.
    if (context.signal.aborted) return context.signal.reason instanceof Error ? context.signal.reason : toError(error);
    const message = error instanceof Error ? error.message : String(error);
    if (!connection.alive && this.#closing === undefined) {
      // The request may have run: not retried. The next call restarts the server, if it may. A call that
      // fails late on a session already replaced by a restart says nothing about the new session.
      const final = this.#restarted && connection === this.#connection;
      const text = final
        ? `MCP server "${this.name}" exited again during the call to ${tool}, after a restart; its tools are unavailable`
        : `MCP server "${this.name}" exited during the call to ${tool}; the call was not retried and the server restarts on the next call`;
      return final ? this.#fail(text) : toolError(text, this.name, tool);
    }
    if (isRequestTimeout(error)) {
      return new PtcError(ErrorCode.ToolTimeout, `MCP server "${this.name}": ${tool} did not answer in time`, {
        server: this.name,
        tool,
      });
    }
    return toolError(`MCP server "${this.name}": ${message}`, this.name, tool);
  }

  /** Leaves the source failed: every later call throws this error. */
  #fail(message: string): PtcError {
    this.#failure = new PtcError(ErrorCode.ToolError, message, { server: this.name });
    return this.#failure;
  }

  #closedError(): PtcError {
    return new PtcError(ErrorCode.ToolError, `MCP server "${this.name}" is closed`, { server: this.name });
  }
}

function toolError(message: string, server: string, tool: string): PtcError {
  return new PtcError(ErrorCode.ToolError, message, { server, tool });
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function isRequestTimeout(error: unknown): boolean {
  return error instanceof McpError && error.code === McpErrorCode.RequestTimeout;
}

/** Resolves when `signal` aborts or after `ms`, whichever comes first. */
function abortOf(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
  });
}
