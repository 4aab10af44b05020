import type { Engine } from "../../engine/engine.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { UpstreamModel } from "../../upstream/upstream-model.js";
import type { AdmissionController } from "../admission.js";
import type { DurableNode } from "../durable/durable-node.js";
import { ContainerElsewhere } from "../durable/forward-request.js";
import { type Logger, logUnhandledError, silentLogger } from "../http/logger.js";
import type { ResourceOwners } from "../resource-owners.js";
import { DEFAULT_MAX_UPSTREAM_TURNS } from "../upstream-turns.js";
import { anthropicErrorResponse, toAnthropicError } from "./anthropic-errors.js";
import { CodeExecutionContainers } from "./code-execution-session.js";
import { DurableMessages } from "./durable-messages.js";
import type { LoopSink } from "./message-loop.js";
import { type LoopDependencies, prepareRequest } from "./message-loop.js";
import { streamMessage } from "./message-stream.js";
import { RefusedCallStore } from "./refused-calls.js";
import { buildMessage, newMessageId } from "./response-builder.js";

/** Interval of `ping` events while a streamed response waits on code or on the upstream. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;

export interface MessagesHandlerOptions {
  engine: Engine;
  /**
   * Tools the server runs itself (config sources). The engine must have been created with them
   * (`createEngine({ tools })`); a client tool of the same name is run here.
   */
  serverTools: readonly ToolDefinition[];
  upstream: UpstreamModel;
  owners: ResourceOwners;
  /** Default `DEFAULT_MAX_UPSTREAM_TURNS` (20); past it the response stops with `pause_turn`. */
  maxUpstreamTurns?: number;
  /** Default `DEFAULT_PING_INTERVAL_MS`. */
  pingIntervalMs?: number;
  /** Per-execution limits on top of the engine's (e.g. a shorter `pendingToolTimeoutMs`). */
  executionLimits?: Partial<ExecutionLimits>;
  /**
   * The server's admission controller (the one the executions API uses): each script this endpoint starts
   * takes a slot until it ends (pauses included). A full queue is a 529 `overloaded_error` with `Retry-After`
   * (in a stream, an `error` event). Default: none, no cap.
   */
  admission?: AdmissionController;
  /** The node's side of a durable store: containers and paused scripts survive restarts and move between nodes. */
  durable?: DurableNode;
  /** Where an error answered with a bare 500 (or a stream's `api_error` event) is logged. Default: nowhere. */
  logger?: Logger;
}

export interface MessagesCall {
  /** The parsed JSON body (untrusted). */
  body: unknown;
  /** `ownerOf(apiKey)` of the authenticated client. */
  owner: string;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
  /** Echoed as `request_id` in error bodies. */
  requestId?: string;
}

/** `POST /v1/messages`: returns a JSON response, an SSE stream (`stream: true`) or an Anthropic-shaped error. */
export type MessagesHandler = (call: MessagesCall) => Promise<Response>;

/**
 * Anthropic's Messages API with programmatic tool calling, on any upstream model: `code_execution` runs
 * in ptc's sandbox, calls of client tools pause the script and go back to the client as `tool_use` blocks
 * with a `caller`, exactly as the hosted tool does. See docs/anthropic-compatible.md.
 */
export function createMessagesHandler(options: MessagesHandlerOptions): MessagesHandler {
  const store = new CodeExecutionContainers(
    options.engine,
    options.owners,
    options.durable ? new DurableMessages(options.durable, options.executionLimits) : undefined,
  );
  const deps: LoopDependencies = {
    engine: options.engine,
    upstream: options.upstream,
    store,
    refusals: new RefusedCallStore(),
    serverTools: options.serverTools,
    maxUpstreamTurns: options.maxUpstreamTurns ?? DEFAULT_MAX_UPSTREAM_TURNS,
    executionLimits: options.executionLimits,
    admission: options.admission,
  };
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const logger = options.logger ?? silentLogger;
  const reported = (error: unknown, requestId: string | undefined): unknown => {
    if (toAnthropicError(error).status === 500) logUnhandledError(logger, error, { request_id: requestId });
    return error;
  };

  return async ({ body, owner, signal, requestId }) => {
    try {
      const prepared = await prepareRequest(deps, body, owner);
      const id = newMessageId();
      const model = prepared.request.model;
      if (prepared.request.stream) {
        return streamMessage({
          id,
          model,
          resumed: prepared.answers !== undefined,
          pingIntervalMs,
          run: (sink) =>
            prepared.run(sink, signal).catch((error: unknown) => {
              throw reported(error, requestId);
            }),
        });
      }
      const content: Parameters<LoopSink["block"]>[0][] = [];
      const outcome = await prepared.run({ block: (block) => content.push(block), upstreamCall() {} }, signal);
      return Response.json(
        buildMessage({
          id,
          model,
          content,
          stopReason: outcome.stopReason,
          stopSequence: outcome.stopSequence,
          usage: outcome.usage.toUsage(),
          container: outcome.container,
        }),
      );
    } catch (error) {
      // Another node holds the container: the app forwards the request there.
      if (error instanceof ContainerElsewhere) throw error;
      return anthropicErrorResponse(reported(error, requestId), requestId);
    }
  };
}
