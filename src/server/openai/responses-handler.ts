import type { Engine } from "../../engine/engine.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { UpstreamModel } from "../../upstream/upstream-model.js";
import type { AdmissionController } from "../admission.js";
import { RefusedCallStore } from "../anthropic/refused-calls.js";
import { type Logger, logUnhandledError, silentLogger } from "../http/logger.js";
import type { Store } from "../store/store.js";
import { DEFAULT_MAX_UPSTREAM_TURNS } from "../upstream-turns.js";
import { openaiErrorResponse, openaiInvalid, toOpenAIError } from "./openai-errors.js";
import { buildResponse, newResponseId, responseUsage } from "./output-builder.js";
import { openProgram } from "./program-continuation.js";
import { ProgramSigner } from "./program-fingerprint.js";
import { ProgramSessions } from "./program-session.js";
import { PROGRAM_TOOL_NAME, programTools } from "./program-tool.js";
import { validateRequest } from "./request-validation.js";
import { type LoopDependencies, type LoopOutcome, ResponseLoop } from "./response-loop.js";
import { DEFAULT_STREAM_KEEPALIVE_MS, streamResponse } from "./response-stream.js";
import type { OutputItem, ResponseObject } from "./responses-types.js";
import { type StoredResponseRoutes, storedResponseRoutes } from "./stored-response-routes.js";
import {
  type ResponseRecords,
  resolveConversation,
  responseRecords,
  type StoredResponseLimits,
  storedResponse,
} from "./stored-responses.js";

/**
 * Stored responses past their retention are forgotten this often, every key's at once (each key's are also
 * pruned as it saves more): a minute, as ended containers are (`PRUNE_INTERVAL_MS`), since the bound is days.
 */
export const RESPONSE_PRUNE_INTERVAL_MS = 60_000;

export interface ResponsesHandlerOptions extends StoredResponseLimits {
  engine: Engine;
  /** Tools the server runs itself (config sources); the engine must have been created with them. */
  serverTools: readonly ToolDefinition[];
  upstream: UpstreamModel;
  /**
   * The key programs' fingerprints are signed with (`loadProgramSecret`): the same on every node, and across
   * restarts, or a client's `store: false` program cannot be continued elsewhere.
   */
  programSecret: Buffer;
  /** Default `DEFAULT_MAX_UPSTREAM_TURNS` (20). */
  maxUpstreamTurns?: number;
  /** Per-program limits on top of the engine's (e.g. a shorter `pendingToolTimeoutMs`). */
  executionLimits?: Partial<ExecutionLimits>;
  /** The server's admission controller: each program takes a slot until it ends (pauses included). */
  admission?: AdmissionController;
  /**
   * Where `store: true` responses live (the durable store's tables). Default: a memory store of this process,
   * with its smaller bounds (`DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY`, `DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY`).
   */
  store?: Store;
  /** Default `DEFAULT_STREAM_KEEPALIVE_MS`. */
  keepaliveMs?: number;
  /** Where an error answered with a bare 500 (or a stream's failed response) is logged. Default: nowhere. */
  logger?: Logger;
}

export interface ResponsesCall {
  /** The parsed JSON body (untrusted). */
  body: unknown;
  /** `ownerOf(apiKey)` of the authenticated client. */
  owner: string;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
}

/** `POST /v1/responses`: a JSON response, an SSE stream (`stream: true`) or an OpenAI-shaped error. */
export interface ResponsesHandler extends StoredResponseRoutes {
  (call: ResponsesCall): Promise<Response>;
  /** Cancels the programs this process runs and stops the retention sweep (server shutdown). */
  close(): void;
}

/**
 * OpenAI's Responses API with programmatic tool calling, on any upstream model: the model's programs run
 * in ptc's sandbox as JavaScript; their calls of the client's functions pause them and reach the client as
 * `function_call` items with a program `caller`, exactly as OpenAI's hosted tool does. See docs/openai-compatible.md.
 */
export function createResponsesHandler(options: ResponsesHandlerOptions): ResponsesHandler {
  const sessions = new ProgramSessions(options.engine, options.admission, options.executionLimits);
  const records: ResponseRecords = responseRecords(options.store, options);
  // A failed sweep (the store is down) is retried by the next; requests meanwhile see the store's own errors.
  const sweep = setInterval(() => records.prune().catch(() => {}), RESPONSE_PRUNE_INTERVAL_MS);
  sweep.unref();
  const deps: LoopDependencies = {
    engine: options.engine,
    upstream: options.upstream,
    sessions,
    signer: new ProgramSigner(options.programSecret),
    refusals: new RefusedCallStore(),
    serverTools: options.serverTools,
    maxUpstreamTurns: options.maxUpstreamTurns ?? DEFAULT_MAX_UPSTREAM_TURNS,
  };
  const keepaliveMs = options.keepaliveMs ?? DEFAULT_STREAM_KEEPALIVE_MS;

  const logger = options.logger ?? silentLogger;
  const reported = (error: unknown): unknown => {
    if (toOpenAIError(error).status === 500) logUnhandledError(logger, error);
    return error;
  };
  const handler = async ({ body, owner, signal }: ResponsesCall): Promise<Response> => {
    try {
      const request = validateRequest(body);
      // Every 4xx is known before a response (or a stream) starts.
      const conversation = await resolveConversation(request, owner, records);
      const open = openProgram(conversation);
      if (open && open.answered.length > 0 && !request.programmatic) {
        throw openaiInvalid(
          `The input continues program ${open.item.call_id}: 'tools' must include the '${PROGRAM_TOOL_NAME}' tool.`,
          "tools",
          "invalid_value",
        );
      }
      const tools = programTools(request, options.serverTools);
      const loop = new ResponseLoop(deps, request, tools, owner, conversation, open);
      const id = newResponseId();
      const createdAt = Math.floor(Date.now() / 1000);
      const finish = async (output: OutputItem[], outcome: LoopOutcome): Promise<ResponseObject> => {
        const response = buildResponse(request, {
          id,
          createdAt,
          status: outcome.incomplete ? "incomplete" : "completed",
          output,
          usage: responseUsage(outcome.usage),
          incomplete: outcome.incomplete,
        });
        if (request.store) {
          try {
            await records.save(storedResponse(owner, conversation, response));
          } catch (error) {
            // The client gets an error instead of this response (413 response_store_quota_exceeded, say).
            loop.abandon("its response could not be stored");
            throw error;
          }
        }
        return response;
      };
      if (request.stream) {
        return streamResponse({
          started: buildResponse(request, { id, createdAt, status: "in_progress", output: [], usage: null }),
          keepaliveMs,
          run: (sink) =>
            loop.run(sink, signal).catch((error: unknown) => {
              throw reported(error);
            }),
          finish,
          fail: (output, error) =>
            buildResponse(request, { id, createdAt, status: "failed", output, usage: null, error }),
          describe: (error) => {
            const { body: reply } = toOpenAIError(error);
            return { code: reply.error.code ?? reply.error.type, message: reply.error.message };
          },
        });
      }
      const output: OutputItem[] = [];
      const outcome = await loop.run({ item: (item) => output.push(item) }, signal);
      return Response.json(await finish(output, outcome));
    } catch (error) {
      return openaiErrorResponse(reported(error));
    }
  };
  const close = () => {
    clearInterval(sweep);
    sessions.close();
  };
  return Object.assign(handler, storedResponseRoutes(records), { close });
}
