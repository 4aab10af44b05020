import type Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { UpstreamError } from "./upstream-error.js";
import type { UpstreamContentBlock, UpstreamRequest, UpstreamResponse, UpstreamUsage } from "./upstream-model.js";

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;
type UserPart = OpenAI.Chat.ChatCompletionContentPartText | OpenAI.Chat.ChatCompletionContentPartImage;

/**
 * When a model's tool-call `arguments` are not a JSON object, the tool_use `input` is
 * `{ [RAW_ARGUMENTS_KEY]: "<the arguments exactly as sent>" }`: nothing is lost, and the caller can
 * answer with an error tool_result that quotes them instead of running the tool on a guess.
 */
export const RAW_ARGUMENTS_KEY = "_ptc_raw_arguments";

/** Prefixed to a tool message whose Anthropic tool_result had `is_error`: chat completions has no flag. */
export const TOOL_ERROR_PREFIX = "Error: ";

export interface OpenAIConversionOptions {
  /** The field the token limit goes in; default `max_tokens` (OpenAI's reasoning models need the other). */
  maxTokensField?: "max_tokens" | "max_completion_tokens";
}

const unsupported = (what: string) =>
  new PtcError(ErrorCode.InvalidRequest, `${what} cannot be sent to a chat-completions upstream`, { what });

function systemText(system: string | Anthropic.TextBlockParam[]): string {
  return typeof system === "string" ? system : system.map((block) => block.text).join("\n\n");
}

function imagePart(block: Anthropic.ImageBlockParam): UserPart {
  const { source } = block;
  if (source.type === "base64")
    return { type: "image_url", image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  if (source.type === "url") return { type: "image_url", image_url: { url: source.url } };
  throw unsupported(`an image with a ${source.type} source`);
}

/** Tool messages take text only: text blocks are joined; other blocks are refused rather than dropped. */
function toolResultText(block: Anthropic.ToolResultBlockParam): string {
  const { content } = block;
  let text: string;
  if (content === undefined) text = "";
  else if (typeof content === "string") text = content;
  else
    text = content
      .map((part) => {
        if (part.type === "text") return part.text;
        throw unsupported(`a ${part.type} block inside a tool_result`);
      })
      .join("\n");
  return block.is_error ? `${TOOL_ERROR_PREFIX}${text}` : text;
}

/**
 * One Anthropic user turn → OpenAI messages. Tool results become `tool` messages first, since chat
 * completions wants them right after the assistant message holding the calls; any text or images of
 * the same turn follow as one user message.
 */
function userMessages(content: Anthropic.MessageParam["content"]): ChatMessage[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const tools: ChatMessage[] = [];
  const parts: UserPart[] = [];
  for (const block of content) {
    if (block.type === "tool_result")
      tools.push({ role: "tool", tool_call_id: block.tool_use_id, content: toolResultText(block) });
    else if (block.type === "text") parts.push({ type: "text", text: block.text });
    else if (block.type === "image") parts.push(imagePart(block));
    else throw unsupported(`a ${block.type} block in a user message`);
  }
  if (parts.length === 0) return tools;
  // A text-only turn as a plain string: the widest-supported form among compatible servers.
  const userContent = parts.every((part) => part.type === "text")
    ? parts.map((part) => (part as OpenAI.Chat.ChatCompletionContentPartText).text).join("\n\n")
    : parts;
  return [...tools, { role: "user", content: userContent }];
}

function assistantMessage(content: Anthropic.MessageParam["content"]): ChatMessage {
  if (typeof content === "string") return { role: "assistant", content };
  const texts: string[] = [];
  const calls: OpenAI.Chat.ChatCompletionMessageFunctionToolCall[] = [];
  for (const block of content) {
    if (block.type === "text") texts.push(block.text);
    else if (block.type === "tool_use")
      calls.push({
        id: block.id,
        type: "function",
        // Always valid JSON, even for a call whose arguments were unparseable (kept under RAW_ARGUMENTS_KEY).
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    // Reasoning is the upstream's own and cannot be replayed in another format.
    else if (block.type === "thinking" || block.type === "redacted_thinking") continue;
    else throw unsupported(`a ${block.type} block in an assistant message`);
  }
  const message: OpenAI.Chat.ChatCompletionAssistantMessageParam = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("\n\n") : null,
  };
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

function toolChoice(choice: Anthropic.ToolChoice): OpenAI.Chat.ChatCompletionToolChoiceOption {
  switch (choice.type) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool":
      return { type: "function", function: { name: choice.name } };
  }
}

/** An Anthropic-shaped upstream request as a chat-completions request. */
export function toOpenAIRequest(
  request: UpstreamRequest,
  options: OpenAIConversionOptions = {},
): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const messages: ChatMessage[] = [];
  if (request.system !== undefined) {
    const text = systemText(request.system);
    if (text !== "") messages.push({ role: "system", content: text });
  }
  for (const message of request.messages) {
    if (message.role === "user") messages.push(...userMessages(message.content));
    else if (message.role === "assistant") messages.push(assistantMessage(message.content));
    else if (typeof message.content === "string") messages.push({ role: "system", content: message.content });
    else messages.push({ role: "system", content: systemText(message.content) });
  }
  const params: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = { model: request.model, messages };
  params[options.maxTokensField ?? "max_tokens"] = request.max_tokens;
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((tool) => {
      const fn: OpenAI.FunctionDefinition = {
        name: tool.name,
        parameters: tool.input_schema as OpenAI.FunctionParameters,
      };
      if (tool.description !== undefined) fn.description = tool.description;
      return { type: "function", function: fn };
    });
  }
  if (request.tool_choice !== undefined) {
    params.tool_choice = toolChoice(request.tool_choice);
    const choice = request.tool_choice;
    if (choice.type !== "none" && choice.disable_parallel_tool_use === true && params.tools !== undefined)
      params.parallel_tool_calls = false;
  }
  if (request.stop_sequences !== undefined && request.stop_sequences.length > 0) params.stop = request.stop_sequences;
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.top_p !== undefined) params.top_p = request.top_p;
  return params;
}

/** A tool call's `arguments` as a tool_use input: a JSON object, or the raw text kept under RAW_ARGUMENTS_KEY. */
export function parseToolArguments(raw: string): Record<string, unknown> {
  // Some servers send "" for a call without parameters.
  if (raw.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Kept raw below.
  }
  return { [RAW_ARGUMENTS_KEY]: raw };
}

function stopReason(
  finish: OpenAI.Chat.ChatCompletion.Choice["finish_reason"] | null,
  hasToolCalls: boolean,
): UpstreamResponse["stop_reason"] {
  switch (finish) {
    case "length":
      return "max_tokens";
    case "content_filter":
      return "refusal";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    default:
      // Some compatible servers answer `stop` even when the reply holds tool calls.
      return hasToolCalls ? "tool_use" : "end_turn";
  }
}

/**
 * OpenAI's `prompt_tokens` includes cached tokens, Anthropic's `input_tokens` does not: the cached
 * part moves to `cache_read_input_tokens` so that totals add up the same way in both.
 */
function usage(usage: OpenAI.CompletionUsage | undefined): UpstreamUsage {
  if (usage === undefined) return { input_tokens: 0, output_tokens: 0 };
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const mapped: UpstreamUsage = {
    input_tokens: usage.prompt_tokens - cached,
    output_tokens: usage.completion_tokens,
  };
  if (cached > 0) mapped.cache_read_input_tokens = cached;
  return mapped;
}

/** A chat completion as an Anthropic-shaped upstream response. */
export function fromOpenAIResponse(completion: OpenAI.Chat.ChatCompletion, provider = "openai"): UpstreamResponse {
  const choice = completion.choices?.[0];
  if (choice === undefined) throw new UpstreamError(provider, "invalid_response", "the reply has no choices");
  const { message } = choice;
  const content: UpstreamContentBlock[] = [];
  if (typeof message.content === "string" && message.content !== "")
    content.push({ type: "text", text: message.content });
  if (typeof message.refusal === "string" && message.refusal !== "")
    content.push({ type: "text", text: message.refusal });
  for (const call of message.tool_calls ?? []) {
    if (call.type === "function")
      content.push({
        type: "tool_use",
        id: call.id,
        name: call.function.name,
        input: parseToolArguments(call.function.arguments),
      });
    else
      content.push({
        type: "tool_use",
        id: call.id,
        name: call.custom.name,
        input: { [RAW_ARGUMENTS_KEY]: call.custom.input },
      });
  }
  const hasToolCalls = content.some((block) => block.type === "tool_use");
  const refused = typeof message.refusal === "string" && message.refusal !== "";
  return {
    id: completion.id,
    model: completion.model,
    content,
    stop_reason: refused ? "refusal" : stopReason(choice.finish_reason, hasToolCalls),
    stop_sequence: null,
    usage: usage(completion.usage),
  };
}
