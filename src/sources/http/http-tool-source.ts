import type { HttpToolServerConfig } from "../../config/ptc-config.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ToolCallContext, ToolCallerSpelling } from "../../protocol/tool.js";
import { normalizeCallers } from "../../tools/allowed-callers.js";
import type { SourceToolDefinition, ToolSource } from "../tool-source.js";
import { displayUrl, HttpTransport, parseJsonBody, RequestFailed } from "./http-request.js";
import {
  HTTP_TOOL_PROTOCOL,
  HttpToolProtocolError,
  IDEMPOTENCY_HEADER,
  MAX_RESPONSE_BYTES,
  PROTOCOL_HEADER,
  parseCallResponse,
  parseToolList,
  parseWireError,
  toolServerUrl,
  type WireCallRequest,
  type WireToolDefinition,
} from "./http-tool-protocol.js";

/** Time to list a tool server's tools, unless its config sets `connectTimeoutMs`. */
export const DEFAULT_HTTP_CONNECT_TIMEOUT_MS = 10_000;
/** Code-only by default: a remote tool's raw results are what programmatic calling keeps out of context. */
const DEFAULT_CALLERS: readonly ToolCallerSpelling[] = ["code_execution"];

/** What a failed request was doing, for its error message. */
interface Attempt {
  readonly url: URL;
  /** `list its tools`, or the tool's name. */
  readonly tool?: string;
  readonly timeoutMs: number;
  /** Bytes of response read at most (a call's: its engine's result limit plus room for the envelope). */
  readonly maxBytes?: number;
}

/**
 * Every request's headers as the transport sends them, flat and as they are: the config's first, the
 * protocol's replacing any of the same name whatever its case; Host the URL's unless the config names
 * one; no length (the body's is added) and no idempotency key (each call's is).
 */
function requestHeaders(config: HttpToolServerConfig): { list: readonly string[]; call: readonly string[] } {
  const headers = new Map<string, [string, string]>();
  const set = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
  for (const [name, value] of Object.entries(config.headers ?? {})) set(name, value);
  set("Accept", "application/json");
  set(PROTOCOL_HEADER, HTTP_TOOL_PROTOCOL);
  if (config.token !== undefined) set("Authorization", `Bearer ${config.token}`);
  headers.delete("content-length");
  headers.delete(IDEMPOTENCY_HEADER.toLowerCase());
  // A base URL that does not parse fails at each request, which says so.
  const url = URL.canParse(config.url) ? new URL(config.url) : undefined;
  if (!headers.has("host")) set("Host", url?.host ?? "");
  // Credentials in the URL, as Node sends them when it is given the URL (and no Authorization is set).
  if (url !== undefined && (url.username !== "" || url.password !== "") && !headers.has("authorization")) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    set("Authorization", `Basic ${Buffer.from(credentials).toString("base64")}`);
  }
  const list = [...headers.values()].flat();
  set("Content-Type", "application/json");
  return { list, call: [...headers.values()].flat() };
}

/** The call response's envelope around the result (`{"result": ...}`, and an error's fields). */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * A `ptc-tools/1` HTTP tool server (docs/http-tool-protocol.md) as a tool source. Tools keep the server's
 * names: they read naturally in scripts, and a clash with another source fails loudly in the registry.
 */
export class HttpToolSource implements ToolSource {
  #listing: Promise<readonly SourceToolDefinition[]> | undefined;
  /** Kept-alive connections to the server, reused by every call; closing it stops the calls in flight. */
  readonly #transport = new HttpTransport();
  /** What `GET /tools` sends, and what every call sends before its idempotency key: built once, flat pairs. */
  readonly #listHeaders: readonly string[];
  readonly #callHeaders: readonly string[];
  /** Each tool's call URL, built once. */
  readonly #callUrls = new Map<string, URL>();

  constructor(
    readonly name: string,
    readonly config: HttpToolServerConfig,
  ) {
    const headers = requestHeaders(config);
    this.#listHeaders = headers.list;
    this.#callHeaders = headers.call;
  }

  listTools(options: { signal?: AbortSignal } = {}): Promise<readonly SourceToolDefinition[]> {
    this.#listing ??= this.#list(options.signal).catch((error: unknown) => {
      this.#listing = undefined; // a server that was down may be up on the next attempt
      throw error;
    });
    return this.#listing;
  }

  async callTool(name: string, input: Record<string, unknown>, context: ToolCallContext): Promise<unknown> {
    const timeoutMs = Math.max(0, context.deadline - Date.now());
    let url = this.#callUrls.get(name);
    if (url === undefined) {
      url = toolServerUrl(this.config.url, name);
      this.#callUrls.set(name, url);
    }
    const attempt: Attempt = { url, tool: name, timeoutMs };
    const body: WireCallRequest = {
      call_id: context.callId,
      execution_id: context.executionId,
      input,
      timeout_ms: timeoutMs,
    };
    const headers = [...this.#callHeaders, IDEMPOTENCY_HEADER, context.callId];
    const maxBytes =
      context.maxResultBytes === undefined
        ? MAX_RESPONSE_BYTES
        : Math.min(MAX_RESPONSE_BYTES, context.maxResultBytes + ENVELOPE_BYTES);
    const { status, value } = await this.#request(
      { ...attempt, maxBytes },
      { method: "POST", headers, body: JSON.stringify(body) },
      context.signal,
    );
    if (status < 200 || status > 299) throw this.#statusError(attempt, status, value);
    let parsed: ReturnType<typeof parseCallResponse>;
    try {
      parsed = parseCallResponse(value);
    } catch (error) {
      throw this.#protocolError(attempt, error);
    }
    if ("content" in parsed) return parsed.content;
    // The tool ran and failed: its own message reaches the script unchanged.
    throw new PtcError(ErrorCode.ToolError, parsed.error.message, {
      source: this.name,
      tool: name,
      ...(parsed.error.code === undefined ? {} : { serverCode: parsed.error.code }),
    });
  }

  async close(): Promise<void> {
    this.#transport.close(new PtcError(ErrorCode.Cancelled, `tool server ${JSON.stringify(this.name)} was closed`));
  }

  async #list(signal: AbortSignal | undefined): Promise<readonly SourceToolDefinition[]> {
    const timeoutMs = this.config.connectTimeoutMs ?? DEFAULT_HTTP_CONNECT_TIMEOUT_MS;
    const attempt: Attempt = { url: toolServerUrl(this.config.url), timeoutMs };
    const { status, value } = await this.#request(attempt, { method: "GET", headers: this.#listHeaders }, signal);
    if (status < 200 || status > 299) throw this.#statusError(attempt, status, value);
    let tools: WireToolDefinition[];
    try {
      tools = parseToolList(value);
    } catch (error) {
      throw this.#protocolError(attempt, error);
    }
    return tools.map((tool) => this.#toDefinition(tool));
  }

  #toDefinition(tool: WireToolDefinition): SourceToolDefinition {
    const callers = tool.allowed_callers ?? this.config.allowedCallers ?? DEFAULT_CALLERS;
    try {
      normalizeCallers(callers); // checked here so the message names the server, not just the tool
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PtcError(ErrorCode.InvalidRequest, `${this.#label()} tool ${JSON.stringify(tool.name)}: ${reason}`);
    }
    return {
      name: tool.name,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      inputSchema: tool.input_schema,
      ...(tool.output_schema === undefined ? {} : { outputSchema: tool.output_schema }),
      allowedCallers: callers as readonly ToolCallerSpelling[],
    };
  }

  /** Sends, reads at most MAX_RESPONSE_BYTES, parses JSON; every failure becomes a PtcError naming the server. */
  async #request(
    attempt: Attempt,
    request: { method: "GET" | "POST"; headers: readonly string[]; body?: string },
    callerSignal: AbortSignal | undefined,
  ): Promise<{ status: number; value: unknown }> {
    try {
      const response = await this.#transport.send(attempt.url, {
        ...request,
        timeoutMs: attempt.timeoutMs,
        maxBytes: attempt.maxBytes ?? MAX_RESPONSE_BYTES,
        signal: callerSignal,
      });
      const parsed = parseJsonBody(response.text);
      if (parsed.ok) return { status: response.status, value: parsed.value };
      // Error statuses often carry HTML from a proxy: report the status, not the parse failure.
      if (response.status < 200 || response.status > 299) {
        throw this.#statusError(attempt, response.status, undefined, parsed.excerpt || response.statusText);
      }
      throw this.#error(ErrorCode.ToolError, attempt, `answered with a body that is not JSON: ${parsed.excerpt}`);
    } catch (error) {
      if (!(error instanceof RequestFailed)) throw error;
      const { failure } = error;
      if (failure.kind === "too_large") {
        // Read no further: the rest is never buffered. A call's result past the engine's limit is that limit's code.
        const code = attempt.tool === undefined ? ErrorCode.ToolError : ErrorCode.ToolResultTooLarge;
        throw this.#error(code, attempt, `sent a response larger than ${failure.limit} bytes`);
      }
      if (failure.kind === "network") {
        throw this.#error(
          ErrorCode.ToolError,
          attempt,
          `is unreachable at ${displayUrl(attempt.url)}: ${failure.message}`,
        );
      }
      if (failure.timedOut) {
        const code = attempt.tool === undefined ? ErrorCode.ToolError : ErrorCode.ToolTimeout;
        throw this.#error(code, attempt, `did not answer within ${attempt.timeoutMs} ms`);
      }
      // Cancelled by the engine (its own timeout or the execution's end) or by close(): pass its reason on.
      if (PtcError.is(failure.reason)) throw failure.reason;
      throw this.#error(ErrorCode.Cancelled, attempt, "request was cancelled");
    }
  }

  #statusError(attempt: Attempt, status: number, body: unknown, fallback?: string): PtcError {
    const detail = parseWireError(body)?.message ?? fallback;
    const suffix = detail ? `: ${detail}` : "";
    if (status === 401 || status === 403) {
      const hint =
        this.config.token === undefined
          ? `no token is configured for toolServers.${this.name}`
          : `check toolServers.${this.name}.token`;
      return this.#error(ErrorCode.ToolError, attempt, `refused the credentials (HTTP ${status}${suffix}); ${hint}`);
    }
    if (status === 404) {
      const what =
        attempt.tool === undefined
          ? `has no ptc-tools endpoint at ${displayUrl(attempt.url)}`
          : `has no tool ${JSON.stringify(attempt.tool)}`;
      return this.#error(
        attempt.tool === undefined ? ErrorCode.ToolError : ErrorCode.ToolNotFound,
        attempt,
        `${what} (HTTP 404${suffix})`,
      );
    }
    if (status >= 300 && status < 400) {
      return this.#error(ErrorCode.ToolError, attempt, `redirected (HTTP ${status}); configure the final URL instead`);
    }
    return this.#error(ErrorCode.ToolError, attempt, `failed with HTTP ${status}${suffix}`);
  }

  #protocolError(attempt: Attempt, error: unknown): unknown {
    if (!(error instanceof HttpToolProtocolError)) return error;
    return this.#error(ErrorCode.ToolError, attempt, `broke the ${HTTP_TOOL_PROTOCOL} protocol: ${error.message}`);
  }

  #error(code: ErrorCode, attempt: Attempt, message: string): PtcError {
    const subject =
      attempt.tool === undefined ? this.#label() : `${this.#label()} (tool ${JSON.stringify(attempt.tool)})`;
    return new PtcError(code, `${subject} ${message}`, {
      source: this.name,
      ...(attempt.tool === undefined ? {} : { tool: attempt.tool }),
    });
  }

  #label(): string {
    return `tool server ${JSON.stringify(this.name)}`;
  }
}
