/**
 * The wire side of the scripted model server: replies encoded as the Anthropic Messages API and the
 * OpenAI chat-completions API send them, JSON and SSE.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ScriptedTurn } from "./scripted-model-server.js";

type Json = Record<string, unknown>;

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let id = prefix;
  for (const byte of bytes) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [];
  const parts: string[] = [];
  for (let start = 0; start < text.length; start += size) parts.push(text.slice(start, start + size));
  return parts;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export interface ResolvedCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface Reply {
  turn: ScriptedTurn;
  calls: ResolvedCall[];
  stopReason: "end_turn" | "max_tokens" | "tool_use";
  model: string;
  inputTokens: number;
  outputTokens: number;
}

function anthropicContent(reply: Reply): Json[] {
  const content: Json[] = [];
  if (reply.turn.text) content.push({ type: "text", text: reply.turn.text });
  for (const call of reply.calls) content.push({ type: "tool_use", id: call.id, name: call.name, input: call.input });
  return content;
}

function anthropicUsage(reply: Reply): Json {
  return {
    input_tokens: reply.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: reply.outputTokens,
    service_tier: "standard",
  };
}

export function sendAnthropic(res: ServerResponse, reply: Reply, stream: boolean): void {
  const id = randomId("msg_01");
  if (!stream) {
    sendJson(res, 200, {
      id,
      type: "message",
      role: "assistant",
      model: reply.model,
      content: anthropicContent(reply),
      stop_reason: reply.stopReason,
      stop_sequence: null,
      usage: anthropicUsage(reply),
    });
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const send = (event: Json) => res.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
  // As the real API: message_start carries the input count and a provisional output count.
  send({
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model: reply.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...anthropicUsage(reply), output_tokens: Math.min(1, reply.outputTokens) },
    },
  });
  send({ type: "ping" });
  let index = 0;
  if (reply.turn.text) {
    send({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
    for (const text of chunks(reply.turn.text, 16))
      send({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
    send({ type: "content_block_stop", index });
    index++;
  }
  for (const call of reply.calls) {
    send({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
    });
    // The real API opens each tool input with an empty partial_json.
    for (const partial_json of ["", ...chunks(JSON.stringify(call.input), 24)])
      send({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } });
    send({ type: "content_block_stop", index });
    index++;
  }
  send({
    type: "message_delta",
    delta: { stop_reason: reply.stopReason, stop_sequence: null },
    usage: anthropicUsage(reply),
  });
  send({ type: "message_stop" });
  res.end();
}

const FINISH_REASON = { end_turn: "stop", tool_use: "tool_calls", max_tokens: "length" } as const;

export function sendOpenAI(res: ServerResponse, reply: Reply, stream: boolean, includeUsage: boolean): void {
  const id = randomId("chatcmpl-", 29);
  const created = Math.floor(Date.now() / 1000);
  const finish_reason = FINISH_REASON[reply.stopReason];
  const usage = {
    prompt_tokens: reply.inputTokens,
    completion_tokens: reply.outputTokens,
    total_tokens: reply.inputTokens + reply.outputTokens,
  };
  const toolCalls = reply.calls.map((call) => ({
    id: call.id,
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.input) },
  }));
  if (!stream) {
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model: reply.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: reply.turn.text ?? null,
            refusal: null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason,
        },
      ],
      usage,
    });
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const send = (choices: Json[], extra: Json = {}) =>
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: reply.model, choices, ...extra })}\n\n`,
    );
  const choice = (delta: Json, finish: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  send([choice({ role: "assistant", content: "", refusal: null })]);
  for (const content of chunks(reply.turn.text ?? "", 16)) send([choice({ content })]);
  toolCalls.forEach((call, index) => {
    send([
      choice({
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }],
      }),
    ]);
    for (const args of chunks(call.function.arguments, 24))
      send([choice({ tool_calls: [{ index, function: { arguments: args } }] })]);
  });
  send([choice({}, finish_reason)]);
  // As OpenAI: usage comes in a last chunk with no choices, only when `stream_options.include_usage` asks.
  if (includeUsage) send([], { usage });
  res.write("data: [DONE]\n\n");
  res.end();
}
