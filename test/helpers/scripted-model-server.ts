/**
 * The one fake in this project: a scripted stand-in for a language model, on loopback, speaking the
 * Anthropic Messages wire format (`POST /v1/messages`) and the OpenAI chat-completions wire format
 * (`POST /v1/chat/completions`), JSON and SSE, as the official SDKs parse them. What it says is
 * scripted; what it counts is real (o200k_base tokens, see `countRequestTokens`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after } from "node:test";
import { loadTokenizer } from "../../src/engine/token-counter.js";
import { createAnthropicUpstream } from "../../src/upstream/anthropic-upstream.js";
import { createOpenAIUpstream } from "../../src/upstream/openai-upstream.js";
import type { UpstreamModel } from "../../src/upstream/upstream-model.js";
import { type Reply, randomId, sendAnthropic, sendJson, sendOpenAI } from "./scripted-model-wire.js";

export interface ScriptedToolCall {
  name: string;
  input: Record<string, unknown>;
  id?: string;
}

export interface ScriptedTurn {
  text?: string;
  toolCalls?: ScriptedToolCall[];
  /** Default: `tool_use` when there are tool calls, else `end_turn`. */
  stopReason?: "end_turn" | "max_tokens" | "tool_use";
  /** Answer this turn with an HTTP error in the format's own error shape instead of a message. */
  error?: { status: number; type: string; message: string };
  /** Wait this long before answering (to test timeouts and aborts). */
  delayMs?: number;
}

export interface RecordedRequest {
  format: "anthropic" | "openai";
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
}

/** A function script gets the request and its index since the last `setScript` (0-based). */
export type Script = readonly ScriptedTurn[] | ((request: RecordedRequest, index: number) => ScriptedTurn);

export interface ScriptedModelServer {
  /** http://127.0.0.1:PORT: the Anthropic SDK's baseURL. */
  url: string;
  /** url + "/v1": the OpenAI SDK's baseURL. */
  openaiBaseURL: string;
  /** Every request received, in order, including failed ones. */
  requests: RecordedRequest[];
  setScript(script: Script): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The text of a content value that is a string or an array of blocks/parts; other blocks as JSON. */
function contentTexts(content: unknown): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return content === undefined || content === null ? [] : [JSON.stringify(content)];
  const texts: string[] = [];
  for (const block of content) {
    if (!isObject(block)) continue;
    if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
    else if (block.type === "tool_use") texts.push(String(block.name), JSON.stringify(block.input ?? {}));
    else if (block.type === "tool_result") texts.push(...contentTexts(block.content));
    else texts.push(JSON.stringify(block));
  }
  return texts;
}

/**
 * The texts whose o200k_base tokens make up a request's input count. The same conversation gives the
 * same pieces in both formats, so counts compare across them:
 * - the system prompt's text (Anthropic `system`, OpenAI `system`/`developer` messages);
 * - per tool: its name, its description, and `JSON.stringify` of its schema (`input_schema` / `parameters`);
 * - per message: text content verbatim; a tool call as its name plus its input as a JSON string
 *   (Anthropic `JSON.stringify(input)`, OpenAI the `arguments` string as sent); a tool result's text;
 *   any other block (images, documents) as its JSON.
 * No per-message framing tokens are added: real APIs add a few, but their exact rules are unpublished.
 */
function inputTexts(format: "anthropic" | "openai", body: Json): string[] {
  const texts: string[] = [];
  if (format === "anthropic") texts.push(...contentTexts(body.system));
  for (const tool of Array.isArray(body.tools) ? body.tools : []) {
    if (!isObject(tool)) continue;
    const fn = format === "openai" && isObject(tool.function) ? tool.function : tool;
    if (typeof fn.name === "string") texts.push(fn.name);
    if (typeof fn.description === "string") texts.push(fn.description);
    const schema = format === "openai" ? fn.parameters : fn.input_schema;
    if (schema !== undefined) texts.push(JSON.stringify(schema));
  }
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(message)) continue;
    texts.push(...contentTexts(message.content));
    if (format === "openai" && Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (!isObject(call) || !isObject(call.function)) continue;
        texts.push(String(call.function.name), String(call.function.arguments));
      }
    }
  }
  return texts;
}

/** Output: the generated text plus, per tool call, its name and `JSON.stringify(input)`. */
function outputTexts(turn: ScriptedTurn): string[] {
  const texts = turn.text ? [turn.text] : [];
  for (const call of turn.toolCalls ?? []) texts.push(call.name, JSON.stringify(call.input));
  return texts;
}

/** Exact o200k_base counts (no sampling, unlike the engine's bounded counter: inputs here are test-sized). */
async function countTokens(texts: readonly string[]): Promise<number> {
  const tokenizer = await loadTokenizer();
  let tokens = 0;
  for (const text of texts) tokens += tokenizer.count(text);
  return tokens;
}

/** Splits text into a few deltas, so clients have to reassemble a stream. */

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function errorBody(format: "anthropic" | "openai", type: string, message: string): Json {
  return format === "anthropic"
    ? { type: "error", error: { type, message }, request_id: randomId("req_") }
    : { error: { message, type, param: null, code: null } };
}

export async function startScriptedModelServer(script: Script = []): Promise<ScriptedModelServer> {
  await loadTokenizer();
  let current: Script = script;
  let position = 0;
  const requests: RecordedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const format = path === "/v1/messages" ? "anthropic" : path === "/v1/chat/completions" ? "openai" : undefined;
    if (req.method !== "POST" || format === undefined) {
      sendJson(
        res,
        404,
        errorBody("anthropic", "not_found_error", `scripted model server: no route ${req.method} ${path}`),
      );
      return;
    }
    let body: Json;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (!isObject(parsed)) throw new Error("not an object");
      body = parsed;
    } catch (error) {
      sendJson(res, 400, errorBody(format, "invalid_request_error", `request body is not a JSON object: ${error}`));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const recorded: RecordedRequest = {
      format,
      path,
      headers,
      body,
      stream: body.stream === true,
      inputTokens: await countTokens(inputTexts(format, body)),
      outputTokens: 0,
    };
    requests.push(recorded);
    const index = position++;
    let turn: ScriptedTurn | undefined;
    try {
      turn = typeof current === "function" ? current(recorded, index) : current[index];
    } catch (error) {
      sendJson(res, 500, errorBody(format, "api_error", `scripted model server: the script threw: ${error}`), {
        "x-should-retry": "false",
      });
      return;
    }
    if (turn === undefined) {
      // A test bug, not a model behaviour: tell the SDKs not to retry so the test fails at once.
      const message = `scripted model server: script exhausted (request #${index} to ${path}, script has ${Array.isArray(current) ? current.length : "?"} turns)`;
      sendJson(res, 500, errorBody(format, "api_error", message), { "x-should-retry": "false" });
      return;
    }
    if (turn.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, turn.delayMs));
      if (res.destroyed || req.destroyed) return;
    }
    if (turn.error !== undefined) {
      sendJson(res, turn.error.status, errorBody(format, turn.error.type, turn.error.message));
      return;
    }
    const calls = (turn.toolCalls ?? []).map((call) => ({
      id: call.id ?? (format === "anthropic" ? randomId("toolu_01") : randomId("call_")),
      name: call.name,
      input: call.input,
    }));
    recorded.outputTokens = await countTokens(outputTexts(turn));
    const reply: Reply = {
      turn,
      calls,
      stopReason: turn.stopReason ?? (calls.length > 0 ? "tool_use" : "end_turn"),
      model: typeof body.model === "string" ? body.model : "scripted-model",
      inputTokens: recorded.inputTokens,
      outputTokens: recorded.outputTokens,
    };
    if (format === "anthropic") sendAnthropic(res, reply, recorded.stream);
    else {
      const options = body.stream_options;
      sendOpenAI(res, reply, recorded.stream, isObject(options) && options.include_usage === true);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody("anthropic", "api_error", `scripted model server: ${error}`));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    requests,
    setScript(next: Script) {
      current = next;
      position = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * A scripted model server for a whole test file (top-level `await`): closed after the file's tests, and
 * then `alsoClose` (the engine the file's agents run on).
 */
export async function startScriptedModelServerForFile(alsoClose?: {
  close(): Promise<void>;
}): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer();
  after(async () => {
    await server.close();
    await alsoClose?.close();
  });
  return server;
}

export interface UpstreamAdapter {
  name: "anthropic" | "openai";
  upstream: () => UpstreamModel;
}

/** Both upstream adapters, each making a client of `server` in its own wire format. */
export function upstreamAdapters(server: ScriptedModelServer): UpstreamAdapter[] {
  return [
    { name: "anthropic", upstream: () => createAnthropicUpstream({ apiKey: "test-key", baseURL: server.url }) },
    { name: "openai", upstream: () => createOpenAIUpstream({ apiKey: "test-key", baseURL: server.openaiBaseURL }) },
  ];
}

export interface SeenCall {
  id: string;
  name: string;
}
export interface SeenResult {
  id: string;
  content: string;
  /** Anthropic's `is_error`; the OpenAI format has none (undefined). */
  isError: boolean | undefined;
}

/** The tool calls of the assistant turns and the tool results a recorded request carried, in either wire format. */
export function conversationOf(request: RecordedRequest): { calls: SeenCall[]; results: SeenResult[] } {
  const calls: SeenCall[] = [];
  const results: SeenResult[] = [];
  for (const message of request.body.messages as Array<Record<string, unknown>>) {
    if (request.format === "openai") {
      if (message.role === "tool") {
        results.push({ id: String(message.tool_call_id), content: String(message.content), isError: undefined });
      }
      for (const call of (message.tool_calls ?? []) as Array<{ id: string; function: { name: string } }>) {
        calls.push({ id: call.id, name: call.function.name });
      }
      continue;
    }
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content as Array<Record<string, unknown>>) {
      if (block.type === "tool_use") calls.push({ id: String(block.id), name: String(block.name) });
      if (block.type === "tool_result") {
        const content = typeof block.content === "string" ? block.content : JSON.stringify(block.content);
        results.push({ id: String(block.tool_use_id), content, isError: block.is_error as boolean | undefined });
      }
    }
  }
  return { calls, results };
}
