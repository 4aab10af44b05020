import { Hono } from "hono";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { ToolRegistry } from "../../tools/tool-registry.js";
import type { ServerEnv } from "./create-server-app.js";
import type { ExecutionStore } from "./execution-store.js";
import { parseCreateExecution, parseSubmitToolResults, parseWaitQuery } from "./request-schemas.js";
import { executionEventStream } from "./server-sent-events.js";
import { readJsonBody } from "./wire-errors.js";
import { wireContainer, wireExecution } from "./wire-shapes.js";

/** DELETE waits this long for the cancelled execution to wind down before answering. */
const CANCEL_WAIT_MS = 10_000;

export interface ExecutionsRoutesOptions {
  store: ExecutionStore;
  /** The server's own tools: a client tool of the same name is ignored and the server's runs. */
  serverToolNames: ReadonlySet<string>;
  /** The server's effective limits, which a client may lower but not raise. */
  ceilings: Readonly<ExecutionLimits>;
}

/** The native executions API under `/v1` (authentication is applied by the app). */
export function executionsRoutes({ store, serverToolNames, ceilings }: ExecutionsRoutesOptions): Hono<ServerEnv> {
  const routes = new Hono<ServerEnv>();

  routes.post("/executions", async (c) => {
    const request = parseCreateExecution(await readJsonBody(c), ceilings);
    const tools: ToolDefinition[] = request.tools.filter((tool) => !serverToolNames.has(tool.name));
    // Validated now, so a queued execution cannot fail later on a bad definition.
    if (tools.length > 0) ToolRegistry.from(tools);
    const entry = await store.create(c.get("owner"), request.container, {
      code: request.code,
      ...(request.language ? { language: request.language } : {}),
      tools,
      limits: request.limits,
      ...(request.resultMode ? { resultMode: request.resultMode } : {}),
    });
    c.set("executionId", entry.id);
    await store.settle(entry, request.waitMs, c.req.raw.signal);
    return c.json(wireExecution(entry));
  });

  routes.get("/executions/:id", async (c) => {
    const entry = await store.get(c.get("owner"), c.req.param("id"));
    c.set("executionId", entry.id);
    await store.settle(entry, parseWaitQuery(c.req.query("wait")), c.req.raw.signal);
    return c.json(wireExecution(entry));
  });

  routes.post("/executions/:id/tool_results", async (c) => {
    const entry = await store.get(c.get("owner"), c.req.param("id"));
    c.set("executionId", entry.id);
    const request = parseSubmitToolResults(await readJsonBody(c));
    const submitted = await store.submit(entry, request.results, c.req.raw.signal);
    await store.settle(entry, request.waitMs, c.req.raw.signal);
    return c.json({
      ...wireExecution(entry),
      submitted: submitted.map(({ callId, status }) => ({ call_id: callId, status })),
    });
  });

  routes.delete("/executions/:id", async (c) => {
    const entry = await store.get(c.get("owner"), c.req.param("id"));
    c.set("executionId", entry.id);
    store.cancel(entry, "cancelled by the client");
    await store.settle(entry, CANCEL_WAIT_MS, c.req.raw.signal);
    return c.json(wireExecution(entry));
  });

  routes.get("/executions/:id/events", async (c) => {
    const entry = await store.get(c.get("owner"), c.req.param("id"));
    c.set("executionId", entry.id);
    return executionEventStream(c, entry);
  });

  routes.get("/containers/:id", async (c) => {
    const record = await store.container(c.get("owner"), c.req.param("id"));
    return c.json(wireContainer(store.describeContainer(record)));
  });

  routes.delete("/containers/:id", async (c) => {
    const id = c.req.param("id");
    await store.deleteContainer(c.get("owner"), id);
    return c.json({ type: "container", id, status: "deleted" });
  });

  return routes;
}
