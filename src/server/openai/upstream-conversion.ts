import type Anthropic from "@anthropic-ai/sdk";
import { isJsonObject } from "../../protocol/json-schema.js";
import { RAW_ARGUMENTS_KEY } from "../../upstream/openai-conversion.js";
import type { UpstreamRequest } from "../../upstream/upstream-model.js";
import {
  type RefusedCall,
  type RefusedCallLookup,
  type RefusedCallsBlock,
  refusedCallEntries,
} from "../anthropic/refused-calls.js";
import { closeDanglingCalls } from "../anthropic/upstream-conversion.js";
import type { ContentPart, InputItem } from "./input-items.js";
import { PROGRAM_TOOL_NAME, type ProgramTools } from "./program-tool.js";
import { DEFAULT_MAX_OUTPUT_TOKENS, type ResponsesRequest } from "./request-validation.js";

/** What the upstream sees of the conversation: the items, plus the refused calls this response answered itself. */
export type ConversationEntry = InputItem | RefusedCallsBlock;

type Role = "user" | "assistant";
type Entry = { role: Role; block: Anthropic.ContentBlockParam };

/** The text of a function_call_output or message content: its string, or its text parts joined. */
export function partsText(content: string | readonly ContentPart[]): string {
  if (typeof content === "string") return content;
  return content
    .map((part) => (part.type === "refusal" ? part.refusal : part.type === "input_image" ? "" : part.text))
    .filter((text) => text !== "")
    .join("\n");
}

function imageBlock(url: string): Anthropic.ImageBlockParam {
  const data = /^data:(image\/(?:png|jpeg|gif|webp));base64,(.*)$/s.exec(url);
  if (data) {
    const mediaType = data[1] as Anthropic.Base64ImageSource["media_type"];
    return { type: "image", source: { type: "base64", media_type: mediaType, data: data[2] ?? "" } };
  }
  return { type: "image", source: { type: "url", url } };
}

function messageBlocks(content: string | readonly ContentPart[]): Anthropic.ContentBlockParam[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  return content.flatMap((part): Anthropic.ContentBlockParam[] => {
    if (part.type === "input_image") return [imageBlock(part.image_url)];
    const text = part.type === "refusal" ? part.refusal : part.text;
    return text === "" ? [] : [{ type: "text", text }];
  });
}

/** A call's `arguments` as the tool_use input: the object, or the raw text kept under `RAW_ARGUMENTS_KEY`. */
export function parseArguments(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (isJsonObject(value)) return value;
  } catch {
    // Kept raw below: the upstream sees what it sent.
  }
  return { [RAW_ARGUMENTS_KEY]: text };
}

/** Ids of calls made by programs: their items are internal to the program and never reach the upstream. */
export function programCallIds(items: readonly ConversationEntry[]): Set<string> {
  const ids = new Set<string>();
  for (const item of items) {
    if (item.type === "function_call" && item.caller?.type === "program") ids.add(item.call_id);
    if (item.type === "function_call_output" && item.caller?.type === "program") ids.add(item.call_id);
  }
  return ids;
}

/**
 * The conversation (the request's items, then what this response produced) as the upstream sees it: a
 * `program` is a call of the program tool with `{code}`, its `program_output` that call's result, the calls
 * a program made (and their outputs) disappear, `reasoning` is dropped (it belongs to the model that wrote
 * it), `system`/`developer` messages join the instructions. Refused direct calls come back where the
 * upstream made them: this response's from its own blocks, earlier ones from `refusedBeside`.
 */
export function upstreamMessages(
  items: readonly ConversationEntry[],
  ours: ReadonlySet<unknown>,
  refusedBeside?: RefusedCallLookup,
): { system: string[]; messages: Anthropic.MessageParam[] } {
  const internal = programCallIds(items);
  const system: string[] = [];
  const entries: Entry[] = [];
  const injected = new Set<readonly RefusedCall[]>();
  const besideOf = (id: string) => {
    const kept = refusedBeside?.(id);
    if (!kept || injected.has(kept)) return [];
    injected.add(kept);
    return [kept];
  };
  let pendingBeside: RefusedCall[] = [];
  const flushBeside = () => {
    if (pendingBeside.length > 0) entries.push(...refusedCallEntries(pendingBeside));
    pendingBeside = [];
  };
  for (const item of items) {
    if (item.type !== "function_call" && item.type !== "program") flushBeside();
    switch (item.type) {
      case "ptc_refused_calls":
        // Only the loop's own blocks are trusted as refusals; a client cannot send this type.
        if (ours.has(item)) entries.push(...refusedCallEntries(item.calls));
        break;
      case "message":
        if (item.role === "system" || item.role === "developer") system.push(partsText(item.content));
        else for (const block of messageBlocks(item.content)) entries.push({ role: item.role, block });
        break;
      case "function_call":
        if (internal.has(item.call_id)) break;
        entries.push({
          role: "assistant",
          block: { type: "tool_use", id: item.call_id, name: item.name, input: parseArguments(item.arguments) },
        });
        for (const kept of besideOf(item.call_id)) pendingBeside.push(...kept);
        break;
      case "function_call_output":
        if (internal.has(item.call_id)) break;
        entries.push({
          role: "user",
          block: { type: "tool_result", tool_use_id: item.call_id, content: partsText(item.output) },
        });
        break;
      case "program":
        entries.push({
          role: "assistant",
          block: { type: "tool_use", id: item.call_id, name: PROGRAM_TOOL_NAME, input: { code: item.code } },
        });
        for (const kept of besideOf(item.call_id)) pendingBeside.push(...kept);
        break;
      case "program_output":
        entries.push({
          role: "user",
          block: {
            type: "tool_result",
            tool_use_id: item.call_id,
            content: item.result,
            ...(item.status === "incomplete" ? { is_error: true } : {}),
          },
        });
        break;
      default:
        // reasoning; item_reference is resolved before conversion.
        break;
    }
  }
  flushBeside();
  const messages: Anthropic.MessageParam[] = [];
  for (const entry of entries) {
    const last = messages.at(-1);
    // Tool results lead their user turn, as the upstream wants them right after the calls.
    if (last && last.role === entry.role && Array.isArray(last.content)) {
      if (entry.block.type === "tool_result") {
        const firstOther = last.content.findIndex((block) => block.type !== "tool_result");
        if (firstOther >= 0) last.content.splice(firstOther, 0, entry.block);
        else last.content.push(entry.block);
      } else last.content.push(entry.block);
    } else messages.push({ role: entry.role, content: [entry.block] });
  }
  // A program that never ended, a call the client moved on from: the upstream gets an error result for each.
  const closed = closeDanglingCalls(messages, (call) =>
    call.name === PROGRAM_TOOL_NAME ? "The program did not finish." : "No result was given for this call.",
  );
  return { system, messages: closed };
}

export interface UpstreamTurn {
  items: readonly ConversationEntry[];
  ours: ReadonlySet<unknown>;
  refusedBeside?: RefusedCallLookup;
  /** `required`, a named function or the program tool force a call: only on the first turn, or the loop never ends. */
  forceToolChoice: boolean;
}

function toolChoice(request: ResponsesRequest, force: boolean): Anthropic.ToolChoice | undefined {
  const choice = request.toolChoice;
  if (choice === "auto") return undefined;
  if (choice === "none") return { type: "none" };
  if (!force) return undefined;
  if (choice === "required") return { type: "any" };
  return { type: "tool", name: choice.type === "function" ? choice.name : PROGRAM_TOOL_NAME };
}

export function upstreamRequest(request: ResponsesRequest, tools: ProgramTools, turn: UpstreamTurn): UpstreamRequest {
  const { system, messages } = upstreamMessages(turn.items, turn.ours, turn.refusedBeside);
  const instructions = [request.instructions, ...system].filter((text): text is string => !!text);
  const upstream: UpstreamRequest = {
    model: request.model,
    max_tokens: request.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    messages,
  };
  if (instructions.length > 0) upstream.system = instructions.join("\n\n");
  if (tools.upstreamTools !== undefined) upstream.tools = tools.upstreamTools;
  const choice = toolChoice(request, turn.forceToolChoice);
  if (choice && upstream.tools) upstream.tool_choice = choice;
  if (request.temperature !== undefined) upstream.temperature = request.temperature;
  if (request.topP !== undefined) upstream.top_p = request.topP;
  return upstream;
}
