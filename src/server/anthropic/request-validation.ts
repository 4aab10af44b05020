import type Anthropic from "@anthropic-ai/sdk";
import { isJsonObject } from "../../protocol/json-schema.js";
import { CONTAINER_REQUIRED_MESSAGE, invalidRequest } from "./anthropic-errors.js";
import { type ClientTool, type CodeToolVersion, validateTools } from "./tool-validation.js";

/** A Messages request after validation: only what this endpoint uses, in trusted types. */
export interface ValidatedRequest {
  model: string;
  maxTokens: number;
  messages: Anthropic.MessageParam[];
  system: string | Anthropic.TextBlockParam[] | undefined;
  stream: boolean;
  temperature: number | undefined;
  topP: number | undefined;
  stopSequences: string[] | undefined;
  toolChoice: Anthropic.ToolChoice | undefined;
  codeTool: CodeToolVersion | undefined;
  tools: ClientTool[];
  container: string | undefined;
}

/** What the client answers for one call a paused script made. */
export interface CodeCallAnswer {
  toolUseId: string;
  text: string;
  isError: boolean;
}

const ROLES = new Set(["user", "assistant", "system"]);
const MAX_CONTAINER_ID = 200;

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value))
    throw invalidRequest(`${key}: Input should be a valid number`);
  return value;
}

function validateBlock(block: unknown, where: string): void {
  if (!isJsonObject(block) || typeof block.type !== "string") {
    throw invalidRequest(`${where}: Input should be a content block object with a string type`);
  }
  const need = (key: string, check: (value: unknown) => boolean, kind: string) => {
    if (!check(block[key])) throw invalidRequest(`${where}.${key}: Input should be ${kind}`);
  };
  const isString = (value: unknown) => typeof value === "string";
  switch (block.type) {
    case "text":
      need("text", isString, "a valid string");
      break;
    case "tool_use":
    case "server_tool_use":
      need("id", isString, "a valid string");
      need("name", isString, "a valid string");
      need("input", isJsonObject, "an object");
      break;
    case "tool_result":
      need("tool_use_id", isString, "a valid string");
      need(
        "content",
        (value) => value === undefined || typeof value === "string" || Array.isArray(value),
        "a string or a list",
      );
      break;
    case "code_execution_tool_result":
      need("tool_use_id", isString, "a valid string");
      need("content", isJsonObject, "an object");
      break;
  }
}

function validateMessages(raw: unknown): Anthropic.MessageParam[] {
  if (raw === undefined) throw invalidRequest("messages: Field required");
  if (!Array.isArray(raw)) throw invalidRequest("messages: Input should be a valid list");
  if (raw.length === 0) throw invalidRequest("messages: at least one message is required");
  raw.forEach((message, index) => {
    const where = `messages.${index}`;
    if (!isJsonObject(message)) throw invalidRequest(`${where}: Input should be an object`);
    if (typeof message.role !== "string" || !ROLES.has(message.role)) {
      throw invalidRequest(`${where}.role: Input should be 'user' or 'assistant'`);
    }
    const { content } = message;
    if (typeof content === "string") return;
    if (!Array.isArray(content)) throw invalidRequest(`${where}.content: Input should be a string or a list of blocks`);
    content.forEach((block, blockIndex) => {
      validateBlock(block, `${where}.content.${blockIndex}`);
    });
  });
  return raw as Anthropic.MessageParam[];
}

function validateSystem(raw: unknown): ValidatedRequest["system"] {
  if (raw === undefined || raw === null || typeof raw === "string") return raw ?? undefined;
  if (
    !Array.isArray(raw) ||
    !raw.every((block) => isJsonObject(block) && block.type === "text" && typeof block.text === "string")
  ) {
    throw invalidRequest("system: Input should be a string or a list of text blocks");
  }
  return raw as Anthropic.TextBlockParam[];
}

function validateContainer(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const id = isJsonObject(raw) ? raw.id : raw;
  if (id === undefined || id === null) return undefined;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_CONTAINER_ID) {
    throw invalidRequest("container: Input should be a container id string (or {id})");
  }
  return id;
}

/** Validates an untrusted request body. Throws a `PtcError` (`invalid_request`) naming the first problem. */
export function validateRequest(body: unknown): ValidatedRequest {
  if (!isJsonObject(body)) throw invalidRequest("request body must be a JSON object");
  const { model, max_tokens: maxTokens, stream, stop_sequences: stopSequences } = body;
  if (model === undefined) throw invalidRequest("model: Field required");
  if (typeof model !== "string" || model.length === 0)
    throw invalidRequest("model: Input should be a non-empty string");
  if (maxTokens === undefined) throw invalidRequest("max_tokens: Field required");
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw invalidRequest("max_tokens: Input should be a positive integer");
  }
  const messages = validateMessages(body.messages);
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") {
    throw invalidRequest("stream: Input should be a valid boolean");
  }
  if (
    stopSequences !== undefined &&
    (!Array.isArray(stopSequences) || !stopSequences.every((item) => typeof item === "string"))
  ) {
    throw invalidRequest("stop_sequences: Input should be a list of strings");
  }
  const { codeTool, tools, toolChoice } = validateTools(body.tools, body.tool_choice);
  return {
    model,
    maxTokens,
    messages,
    system: validateSystem(body.system),
    stream: stream === true,
    temperature: optionalNumber(body, "temperature"),
    topP: optionalNumber(body, "top_p"),
    stopSequences: stopSequences as string[] | undefined,
    toolChoice,
    codeTool,
    tools,
    container: validateContainer(body.container),
  };
}

function blocksOf(message: Anthropic.MessageParam | undefined): Array<Record<string, unknown>> {
  if (!message || typeof message.content === "string") return [];
  return message.content as unknown as Array<Record<string, unknown>>;
}

/** A tool_use block made by code: `caller` says so, or the server knows the id (a client that dropped `caller`). */
export function isCodeCallBlock(block: Record<string, unknown>, knownCodeCallIds: ReadonlySet<string>): boolean {
  if (block.type !== "tool_use") return false;
  const caller = block.caller;
  if (isJsonObject(caller) && typeof caller.type === "string" && caller.type.startsWith("code_execution")) return true;
  return typeof block.id === "string" && knownCodeCallIds.has(block.id);
}

/** The text a script receives for a tool_result: its string, or its text blocks joined. */
function resultText(block: Record<string, unknown>, where: string): string {
  const { content } = block;
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  const parts = content as unknown[];
  return parts
    .map((part) => {
      if (!isJsonObject(part) || part.type !== "text" || typeof part.text !== "string") {
        throw invalidRequest(`${where}: a tool_result for a call made by code execution may hold only text`);
      }
      return part.text;
    })
    .join("\n");
}

/**
 * The answers to a paused script's calls when the request resumes one: the previous assistant turn has
 * tool_use blocks made by code, and the last user turn answers them. Enforces the hosted API's rules:
 * `container` is required, the user turn holds only tool_result blocks, and every code call is answered.
 * Undefined when the request does not resume a script.
 */
export function codeCallAnswers(
  request: ValidatedRequest,
  knownCodeCallIds: ReadonlySet<string>,
): CodeCallAnswer[] | undefined {
  const { messages } = request;
  const last = messages.at(-1);
  const previous = messages.at(-2);
  if (last?.role !== "user" || previous?.role !== "assistant") return undefined;
  const codeCalls = blocksOf(previous).filter((block) => isCodeCallBlock(block, knownCodeCallIds));
  if (codeCalls.length === 0) return undefined;
  if (request.container === undefined) throw invalidRequest(CONTAINER_REQUIRED_MESSAGE);
  const where = `messages.${messages.length - 1}.content`;
  const userBlocks = blocksOf(last);
  if (typeof last.content === "string" || userBlocks.some((block) => block.type !== "tool_result")) {
    throw invalidRequest(
      `${where}: the user turn that answers tool calls made by code execution must contain only tool_result blocks`,
    );
  }
  const byId = new Map(userBlocks.map((block, index) => [String(block.tool_use_id), { block, index }]));
  return codeCalls.map((call) => {
    const id = String(call.id);
    const answer = byId.get(id);
    if (!answer) {
      throw invalidRequest(
        `${where}: tool_use ids were found without tool_result blocks immediately after: ${id}. Each tool_use block must have a corresponding tool_result block in the next message.`,
      );
    }
    return {
      toolUseId: id,
      text: resultText(answer.block, `${where}.${answer.index}`),
      isError: answer.block.is_error === true,
    };
  });
}
