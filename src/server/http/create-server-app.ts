import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Engine } from "../../engine/engine.js";
import { ErrorCode } from "../../protocol/errors.js";
import { type ExecutionLimits, resolveLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { type AdmissionController, createAdmissionController } from "../admission.js";
import type { MessagesHandler } from "../anthropic/messages-handler.js";
import type { DurableNode } from "../durable/durable-node.js";
import { ContainerElsewhere, forwardRequest } from "../durable/forward-request.js";
import { openaiErrorShape } from "../openai/openai-errors.js";
import type { ResponsesHandler } from "../openai/responses-handler.js";
import type { ResourceOwners } from "../resource-owners.js";
import { type AuthVariables, authenticate } from "./authenticate.js";
import { DurableExecutions } from "./durable-executions.js";
import { ExecutionStore, type ExecutionStoreOptions } from "./execution-store.js";
import { executionsRoutes } from "./executions-routes.js";
import { type Logger, logUnhandledError, silentLogger } from "./logger.js";
import { errorResponse, readJsonBody, toErrorResponse } from "./wire-errors.js";
import { snakeKeys } from "./wire-shapes.js";

/** Request bodies past this are refused with 413 (tool results are the large part). */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1_048_576;

export interface ServerVariables extends AuthVariables {
  requestId: string;
  /** Set by execution routes so the request log names the execution. */
  executionId: string | undefined;
}

export type ServerEnv = { Variables: ServerVariables };

export interface ServerAppOptions {
  engine: Engine;
  owners: ResourceOwners;
  /** Accepted client keys; at least one (the CLI generates one when none is configured). */
  apiKeys: readonly string[];
  /** `POST /v1/messages`; without it the endpoint answers 503 (no upstream model configured). */
  messages?: MessagesHandler;
  /** `POST /v1/responses` (OpenAI-compatible); without it the endpoint answers 503 (no upstream model configured). */
  responses?: ResponsesHandler;
  logger?: Logger;
  maxBodyBytes?: number;
  /** The tools the engine was created with: a client tool of the same name defers to the server's. */
  serverTools?: readonly ToolDefinition[];
  /** The engine's limits: clients may lower them per execution, never raise them. */
  limits?: Partial<ExecutionLimits>;
  executions?: ExecutionStoreOptions;
  /**
   * The server's one admission controller (running cap, bounded queue, 429): executions of this API
   * take their slots from it, and `/v1/messages` should too (pass the same object to its handler).
   * Default: `createAdmissionController()` with the `DEFAULT_*` caps.
   */
  admission?: AdmissionController;
  /**
   * The node's side of a durable store: containers and executions survive restarts and move between
   * nodes. Without it, everything lives in this process (as `--store memory` did before there was a store).
   */
  durable?: DurableNode;
}

export interface ServerApp {
  app: Hono<ServerEnv>;
  store: ExecutionStore;
  /** `options.admission`, or the one created for this app. */
  admission: AdmissionController;
  /**
   * Graceful stop: new executions and messages get 503 at once; running executions have `graceMs`
   * to finish (clients may still answer their tool calls), then the rest are cancelled.
   */
  shutdown(graceMs: number): Promise<void>;
}

/** `/v1/messages` and `/v1/responses` without `server.upstream`. */
function noUpstream(): Response {
  return errorResponse(
    ErrorCode.UpstreamUnavailable,
    "no upstream model configured: set server.upstream in ptc.config.json",
  );
}

export function createServerApp(options: ServerAppOptions): ServerApp {
  if (options.apiKeys.length === 0) throw new Error("createServerApp needs at least one API key");
  const logger = options.logger ?? silentLogger;
  const app = new Hono<ServerEnv>();
  let accepting = true;
  const admission = options.admission ?? createAdmissionController();
  const durable = options.durable;
  const store = new ExecutionStore(
    options.engine,
    options.owners,
    admission,
    options.executions,
    durable ? new DurableExecutions(durable, options.engine) : undefined,
  );

  app.use(async (c, next) => {
    const startedAt = performance.now();
    const requestId = `req_${randomBytes(12).toString("base64url")}`;
    c.set("requestId", requestId);
    c.set("executionId", undefined);
    await next();
    c.header("request-id", requestId);
    logger.log("info", "request", {
      request_id: requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round(performance.now() - startedAt),
      execution_id: c.get("executionId"),
    });
  });

  app.get("/health", (c) => {
    const stats = options.engine.stats();
    // 503 while shutting down, so load balancers stop sending work.
    return c.json(
      {
        status: accepting ? "ok" : "shutting_down",
        isolation: options.engine.isolation.level,
        pool: stats.pool,
        containers: stats.containers,
        running_executions: stats.running,
        executions: store.stats(),
        admission: snakeKeys(admission.stats()),
        ...(durable
          ? {
              store: { kind: durable.store.kind, node_id: durable.nodeId, url: durable.url },
              leases: durable.leases().map(({ containerId, epoch }) => ({ container_id: containerId, epoch })),
            }
          : { store: { kind: "none" } }),
      },
      accepting ? 200 : 503,
    );
  });

  // Before authentication: its refusals (401, 413, 503) reach OpenAI's SDK in OpenAI's error shape.
  app.use("/v1/responses", openaiErrorShape());
  app.use("/v1/responses/*", openaiErrorShape());
  app.use("/v1/*", authenticate(options.apiKeys));
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      onError: () =>
        errorResponse(
          ErrorCode.PayloadTooLarge,
          `request body exceeds ${options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES} bytes`,
        ),
    }),
  );

  app.post("/v1/messages", async (c) => {
    if (!accepting) return errorResponse(ErrorCode.ShuttingDown, "the server is shutting down");
    if (!options.messages) return noUpstream();
    const body = await readJsonBody(c);
    return options.messages({ body, owner: c.get("owner"), signal: c.req.raw.signal, requestId: c.get("requestId") });
  });

  app.post("/v1/responses", async (c) => {
    if (!accepting) return errorResponse(ErrorCode.ShuttingDown, "the server is shutting down");
    if (!options.responses) return noUpstream();
    const body = await readJsonBody(c);
    return options.responses({ body, owner: c.get("owner"), signal: c.req.raw.signal });
  });

  // Stored (`store: true`) responses: read and deleted while shutting down too, as they touch no sandbox.
  const stored = (route: "retrieve" | "delete" | "inputItems") => (c: Context<ServerEnv>) => {
    if (!options.responses) return noUpstream();
    const query = new URL(c.req.url).searchParams;
    return options.responses[route]({ id: c.req.param("id") ?? "", owner: c.get("owner"), query });
  };
  app.get("/v1/responses/:id", stored("retrieve"));
  app.delete("/v1/responses/:id", stored("delete"));
  app.get("/v1/responses/:id/input_items", stored("inputItems"));

  app.route(
    "/v1",
    executionsRoutes({
      store,
      serverToolNames: new Set((options.serverTools ?? []).map((tool) => tool.name)),
      ceilings: resolveLimits(options.limits),
    }),
  );

  app.notFound(() => errorResponse(ErrorCode.NotFound, "no such endpoint"));
  app.onError(async (error, c) => {
    if (error instanceof ContainerElsewhere && durable) {
      try {
        const body = c.req.method === "GET" ? undefined : await c.req.text();
        const retryAfter = Math.max(1, Math.ceil(durable.leaseTtlMs / 1000));
        return await forwardRequest(c.req.raw, body, error, durable.nodeId, retryAfter);
      } catch (forwardError) {
        return toErrorResponse(forwardError).response;
      }
    }
    const { response, internal } = toErrorResponse(error);
    if (internal) logUnhandledError(logger, error, { request_id: c.get("requestId") });
    return response;
  });

  return {
    app,
    store,
    admission,
    async shutdown(graceMs) {
      accepting = false;
      // Queued executions of every endpoint are refused (503) at once; slots held are kept until released.
      admission.close();
      await store.shutdown(graceMs);
      options.responses?.close();
    },
  };
}
