import { randomBytes } from "node:crypto";
import type { ExecutionResult } from "../../protocol/execution.js";
import type { UsageTotals } from "../anthropic/response-builder.js";
import type { ResponsesRequest } from "./request-validation.js";
import type {
  FunctionCallItem,
  MessageItem,
  OutputItem,
  ProgramOutputItem,
  ResponseError,
  ResponseObject,
  ResponseUsage,
} from "./responses-types.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Item and response ids in OpenAI's style: a prefix and 48 hex characters (`resp_0742d30c…`). */
function hexId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("hex")}`;
}

export const newResponseId = () => hexId("resp");
export const newProgramId = () => hexId("cm");
export const newProgramOutputId = () => hexId("cmo");
export const newFunctionCallId = () => hexId("fc");
export const newMessageId = () => hexId("msg");

/** Call ids in OpenAI's style: `call_` and 24 base62 characters (`call_O2IvSLQcJ0bwIvJZ2ovGV69M`). */
export function newCallId(): string {
  let id = "call_";
  for (const byte of randomBytes(24)) id += BASE62[byte % 62];
  return id;
}

export function messageItem(text: string, phase: MessageItem["phase"]): MessageItem {
  return {
    id: newMessageId(),
    type: "message",
    status: "completed",
    content: [{ type: "output_text", annotations: [], logprobs: [], text }],
    phase,
    role: "assistant",
  };
}

/** A call the model made itself (`caller` absent) or one a program made (paused on the client: `in_progress`). */
export function functionCallItem(
  callId: string,
  name: string,
  input: unknown,
  programCallId?: string,
): FunctionCallItem {
  const item: FunctionCallItem = {
    id: newFunctionCallId(),
    type: "function_call",
    status: programCallId === undefined ? "completed" : "in_progress",
    arguments: JSON.stringify(input ?? {}),
    call_id: callId,
    name,
  };
  if (programCallId !== undefined) item.caller = { type: "program", caller_id: programCallId };
  return item;
}

/**
 * A finished program: `completed` with what it passed to `text()` (its stdout), or `incomplete` with its
 * output so far and the error, worded for the model to act on (fix the code and call the tool again).
 */
export function programOutputItem(programCallId: string, result: ExecutionResult): ProgramOutputItem {
  const failed = result.status !== "completed" || result.error !== null;
  let text = result.stdout;
  if (failed) {
    const error = result.error;
    const reason = error ? `${error.type}: ${error.message}` : `the program was ${result.status}`;
    const where = error?.line !== undefined ? ` (line ${error.line})` : "";
    const stderr = result.stderr === "" ? "" : `\nstderr:\n${result.stderr}`;
    const code = error ? ` [${error.code}]` : "";
    text = `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}Program failed${where}${code}: ${reason}${stderr}`;
  }
  return {
    id: newProgramOutputId(),
    type: "program_output",
    status: failed ? "incomplete" : "completed",
    call_id: programCallId,
    result: text,
  };
}

/** Usage summed over the request's upstream calls, in `ResponseUsage`'s shape. */
export function responseUsage(totals: UsageTotals): ResponseUsage {
  const input = totals.inputTokens + totals.cacheCreationInputTokens + totals.cacheReadInputTokens;
  return {
    input_tokens: input,
    input_tokens_details: {
      cache_write_tokens: totals.cacheCreationInputTokens,
      cached_tokens: totals.cacheReadInputTokens,
    },
    output_tokens: totals.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + totals.outputTokens,
  };
}

export interface ResponseParts {
  id: string;
  createdAt: number;
  status: ResponseObject["status"];
  output: OutputItem[];
  usage: ResponseUsage | null;
  error?: ResponseError | null;
  incomplete?: boolean;
}

/** The response object, with the request's settings echoed as OpenAI echoes them. */
export function buildResponse(request: ResponsesRequest, parts: ResponseParts): ResponseObject {
  const done = parts.status !== "in_progress";
  return {
    id: parts.id,
    object: "response",
    created_at: parts.createdAt,
    completed_at: done ? Math.floor(Date.now() / 1000) : null,
    status: parts.status,
    background: false,
    error: parts.error ?? null,
    incomplete_details: parts.incomplete ? { reason: "max_output_tokens" } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.maxOutputTokens ?? null,
    max_tool_calls: null,
    model: request.model,
    access_programs: null,
    output: parts.output,
    parallel_tool_calls: request.parallelToolCalls,
    previous_response_id: request.previousResponseId ?? null,
    store: request.store,
    temperature: request.temperature ?? null,
    top_p: request.topP ?? null,
    text: { format: { type: "text" } },
    tool_choice: request.toolChoice,
    tools: request.wireTools,
    truncation: "disabled",
    usage: parts.usage,
    user: null,
    metadata: request.metadata,
    // Settings an upstream behind ptc has no use for, echoed at OpenAI's defaults (the recordings carry them).
    frequency_penalty: 0,
    presence_penalty: 0,
    moderation: null,
    prompt_cache_key: null,
    prompt_cache_retention: null,
    reasoning: null,
    safety_identifier: null,
    service_tier: "default",
    top_logprobs: 0,
  };
}
