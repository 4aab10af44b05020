/** A `ptc-tools/1` server (docs/http-tool-protocol.md) as a Hono app: bearer auth, idempotency-key dedupe. */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  HTTP_TOOL_PROTOCOL,
  HttpToolProtocolError,
  IDEMPOTENCY_HEADER,
  PROTOCOL_HEADER,
  parseCallRequest,
  type WireCallResponse,
} from "../../src/sources/http/http-tool-protocol.js";
import { createInventoryTools, type ServerTool, ToolFailure } from "./inventory-tools.js";

export interface ToolServerOptions {
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Default: the inventory tools. */
  tools?: readonly ServerTool[];
  /** How long an answer is replayed for a repeated idempotency key. Default 10 minutes. */
  idempotencyTtlMs?: number;
  /** Request bodies above this are refused with 413. Default `DEFAULT_MAX_BODY_BYTES` (1 MiB). */
  maxBodyBytes?: number;
}

interface Answer {
  status: ContentfulStatusCode;
  body: WireCallResponse;
}

interface Remembered {
  expires: number;
  answer: Promise<Answer>;
}

const MAX_REMEMBERED = 10_000;
/** Request bodies above this are refused with 413, unless `maxBodyBytes` says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function failure(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export function createToolServerApp(options: ToolServerOptions = {}): Hono {
  const tools = new Map((options.tools ?? createInventoryTools()).map((tool) => [tool.definition.name, tool]));
  const ttlMs = options.idempotencyTtlMs ?? 10 * 60_000;
  // Keyed by tool and idempotency key; an in-flight call is shared, so a retry never runs the tool twice.
  const remembered = new Map<string, Remembered>();
  const expected = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);

  const app = new Hono();
  app.onError((error, c) => {
    console.error("tool server:", error);
    return c.json(failure("internal_error", "internal error"), 500);
  });
  app.notFound((c) => c.json(failure("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

  app.use("*", async (c, next) => {
    // Hashing both sides makes the comparison constant-time whatever the lengths.
    if (expected && !timingSafeEqual(digest(c.req.header("Authorization") ?? ""), expected)) {
      c.header("WWW-Authenticate", "Bearer");
      return c.json(failure("unauthorized", "missing or wrong bearer token"), 401);
    }
    const protocol = c.req.header(PROTOCOL_HEADER);
    if (protocol !== undefined && protocol !== HTTP_TOOL_PROTOCOL) {
      return c.json(failure("unsupported_protocol", `this server speaks ${HTTP_TOOL_PROTOCOL}, not ${protocol}`), 400);
    }
    await next();
  });

  app.get("/tools", (c) =>
    c.json({ protocol: HTTP_TOOL_PROTOCOL, tools: [...tools.values()].map((tool) => tool.definition) }),
  );

  app.post("/tools/:name/call", limitBody(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES), async (c) => {
    const tool = tools.get(c.req.param("name"));
    if (!tool) return c.json(failure("unknown_tool", `no tool ${JSON.stringify(c.req.param("name"))}`), 404);
    let request: ReturnType<typeof parseCallRequest>;
    try {
      request = parseCallRequest(await c.req.json());
    } catch (error) {
      const message = error instanceof HttpToolProtocolError ? error.message : "the body is not JSON";
      return c.json(failure("bad_request", message), 400);
    }
    const idempotencyKey = c.req.header(IDEMPOTENCY_HEADER);
    const signal = c.req.raw.signal;
    const run = (): Promise<Answer> =>
      runTool(tool, request.input, {
        callId: request.call_id,
        executionId: request.execution_id,
        signal,
        idempotencyKey,
      });
    if (idempotencyKey === undefined) {
      const { status, body } = await run();
      return c.json(body, status);
    }
    const now = Date.now();
    for (const [key, entry] of remembered) {
      if (entry.expires > now && remembered.size < MAX_REMEMBERED) break; // oldest first: the rest are newer
      remembered.delete(key);
    }
    const key = `${tool.definition.name}\n${idempotencyKey}`;
    let entry = remembered.get(key);
    if (!entry) {
      const started: Remembered = { expires: now + ttlMs, answer: run() };
      remembered.set(key, started);
      // A call cut short (client gone, server error) is forgotten so that its retry runs it afresh.
      const forget = () => {
        if (remembered.get(key) === started) remembered.delete(key);
      };
      signal.addEventListener("abort", forget, { once: true });
      started.answer.then(({ status }) => {
        signal.removeEventListener("abort", forget);
        if (status >= 500) forget();
      }, forget);
      entry = started;
    }
    const { status, body } = await entry.answer;
    return c.json(body, status);
  });
  return app;
}

/**
 * Hono's `bodyLimit` reads `c.req.raw.body`, which makes @hono/node-server build a WHATWG Request and a
 * web stream over the socket for every call: ~150 µs of the server's CPU per call, more than all the rest
 * of it (BENCHMARKS.md, "The HTTP tool source"). A body with a Content-Length (what `HttpToolSource` and
 * most clients send) is judged by that header, which Node's parser holds the body to, and then read by
 * the adapter's direct path; only a chunked body goes through `bodyLimit`'s counting stream.
 */
function limitBody(maxSize: number): MiddlewareHandler {
  const tooLarge = (c: Context) => c.json(failure("too_large", "request body too large"), 413);
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header("Content-Length");
    if (length === undefined || c.req.header("Transfer-Encoding") !== undefined) return streamed(c, next);
    if (Number(length) > maxSize) return tooLarge(c);
    await next();
  };
}

async function runTool(
  tool: ServerTool,
  input: Record<string, unknown>,
  context: Parameters<ServerTool["run"]>[1],
): Promise<Answer> {
  try {
    return { status: 200, body: { content: (await tool.run(input, context)) ?? null } };
  } catch (error) {
    if (error instanceof ToolFailure) {
      return {
        status: 200,
        body: { error: error.code ? { code: error.code, message: error.message } : { message: error.message } },
      };
    }
    if (context.signal.aborted) return { status: 500, body: failure("aborted", "the client went away") };
    console.error(`tool server: ${tool.definition.name} failed:`, error);
    return { status: 500, body: failure("internal_error", "internal error") };
  }
}
