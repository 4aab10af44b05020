import type Anthropic from "@anthropic-ai/sdk";
import {
  CODE_EXECUTION_TOOL_NAME,
  codeExecutionResultText,
  codeExecutionTool,
} from "../../agent/code-execution-tool.js";
import { PtcError } from "../../protocol/errors.js";
import type { JsonSchema } from "../../protocol/json-schema.js";
import { isJsonObject } from "../../protocol/json-schema.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { ToolRegistry } from "../../tools/tool-registry.js";
import type { UpstreamRequest } from "../../upstream/upstream-model.js";
import { invalidRequest } from "./anthropic-errors.js";
import {
  type RefusedCall,
  type RefusedCallLookup,
  type RefusedCallsBlock,
  refusedCallEntries,
} from "./refused-calls.js";
import { isCodeCallBlock, type ValidatedRequest } from "./request-validation.js";

type Block = Record<string, unknown>;
type Role = Anthropic.MessageParam["role"];

/** The tools of one request, in the three views the endpoint needs. */
export interface RequestTools {
  /** What the engine runs: server tools (with handlers) and the client's code-callable tools (paused on). */
  engineTools: ToolDefinition[];
  /** What the upstream model sees: the client's direct tools and `code_execution` with the Python stubs. */
  upstreamTools: Anthropic.Tool[] | undefined;
}

/**
 * Server tools are the engine's own tools (`createEngine({ tools: serverTools })`): reachable from code
 * whatever the client lists, and run by the server even when a client tool has the same name. The
 * client's code-callable tools are added per execution (no handler: calls pause for the client);
 * code-only client tools exist only inside the sandbox.
 */
export function requestTools(request: ValidatedRequest, serverTools: readonly ToolDefinition[]): RequestTools {
  const upstreamTools: Anthropic.Tool[] = [];
  for (const tool of request.tools) {
    if (!tool.direct) continue;
    // Only the portable fields: an upstream may reject allowed_callers, strict, cache_control, ...
    const plain: Anthropic.Tool = { name: tool.name, input_schema: tool.inputSchema };
    if (tool.description !== undefined) plain.description = tool.description;
    upstreamTools.push(plain);
  }
  if (request.codeTool === undefined) {
    return { engineTools: [], upstreamTools: upstreamTools.length > 0 ? upstreamTools : undefined };
  }
  const serverNames = new Set(serverTools.map((tool) => tool.name));
  const engineTools: ToolDefinition[] = [];
  for (const tool of request.tools) {
    if (!tool.fromCode || serverNames.has(tool.name)) continue;
    const definition: ToolDefinition = {
      name: tool.name,
      inputSchema: tool.inputSchema as JsonSchema,
      allowedCallers: ["code_execution"],
    };
    if (tool.description !== undefined) definition.description = tool.description;
    engineTools.push(definition);
  }
  let stubs: string;
  try {
    stubs = ToolRegistry.from([...serverTools, ...engineTools]).pythonStubs({ resultMode: "text" });
  } catch (error) {
    if (PtcError.is(error)) throw invalidRequest(`tools: ${error.message}`);
    throw error;
  }
  upstreamTools.push(codeExecutionTool(stubs));
  return { engineTools, upstreamTools };
}

/** A `code_execution_tool_result` as the tool_result the upstream gets for its `code_execution` call. */
function codeResultToToolResult(block: Block): Anthropic.ToolResultBlockParam {
  const content = isJsonObject(block.content) ? block.content : {};
  const toolUseId = String(block.tool_use_id);
  if (content.type === "code_execution_result") {
    const text = codeExecutionResultText({
      stdout: typeof content.stdout === "string" ? content.stdout : "",
      stderr: typeof content.stderr === "string" ? content.stderr : "",
      return_code: typeof content.return_code === "number" ? content.return_code : 0,
    });
    return { type: "tool_result", tool_use_id: toolUseId, content: text };
  }
  const code = typeof content.error_code === "string" ? content.error_code : "unavailable";
  return { type: "tool_result", tool_use_id: toolUseId, content: `Code execution failed: ${code}`, is_error: true };
}

type Entry = { role: Role; block: Anthropic.ContentBlockParam } | { role: "system"; message: Anthropic.MessageParam };

function convertBlock(role: Role, block: Block, codeCallIds: ReadonlySet<string>): Entry | undefined {
  switch (block.type) {
    case "text":
      return { role, block: { type: "text", text: String(block.text) } };
    case "server_tool_use":
      if (block.name !== CODE_EXECUTION_TOOL_NAME) return undefined;
      return {
        role: "assistant",
        block: { type: "tool_use", id: String(block.id), name: CODE_EXECUTION_TOOL_NAME, input: block.input },
      };
    case "code_execution_tool_result":
      return { role: "user", block: codeResultToToolResult(block) };
    case "tool_use":
      if (codeCallIds.has(String(block.id))) return undefined;
      return { role, block: { type: "tool_use", id: String(block.id), name: String(block.name), input: block.input } };
    case "tool_result": {
      if (codeCallIds.has(String(block.tool_use_id))) return undefined;
      const result: Anthropic.ToolResultBlockParam = { type: "tool_result", tool_use_id: String(block.tool_use_id) };
      if (block.content !== undefined) result.content = block.content as Anthropic.ToolResultBlockParam["content"];
      if (block.is_error === true) result.is_error = true;
      return { role, block: result };
    }
    case "thinking":
    case "redacted_thinking":
      // Thinking belongs to the model that produced it; the upstream cannot verify its signature.
      return undefined;
    default:
      return { role, block: block as unknown as Anthropic.ContentBlockParam };
  }
}

/**
 * Every unanswered call `resultText` names (its error result's text) gets an error result in the next user
 * turn, so the upstream never sees a dangling tool_use. `/v1/responses` closes its calls the same way.
 */
export function closeDanglingCalls(
  messages: Anthropic.MessageParam[],
  resultText: (call: Anthropic.ToolUseBlockParam) => string | undefined,
): Anthropic.MessageParam[] {
  const output: Anthropic.MessageParam[] = [];
  messages.forEach((message, index) => {
    output.push(message);
    if (message.role !== "assistant" || typeof message.content === "string") return;
    const next = messages[index + 1];
    const answered = new Set(
      next?.role === "user" && Array.isArray(next.content)
        ? next.content.filter((block) => block.type === "tool_result").map((block) => block.tool_use_id)
        : [],
    );
    const missing: Anthropic.ToolResultBlockParam[] = message.content.flatMap((block) => {
      if (block.type !== "tool_use" || answered.has(block.id)) return [];
      const text = resultText(block);
      return text === undefined ? [] : [{ type: "tool_result", tool_use_id: block.id, content: text, is_error: true }];
    });
    if (missing.length === 0) return;
    if (next?.role === "user" && Array.isArray(next.content)) next.content.unshift(...missing);
    else output.push({ role: "user", content: missing });
  });
  return output;
}

/** What the loop produced so far for the upstream: the client's blocks plus the refused calls it answered itself. */
export type UpstreamViewBlock = Anthropic.ContentBlock | RefusedCallsBlock;

/**
 * The client's history (plus the blocks this response produced so far) as the upstream sees it:
 * `server_tool_use` becomes a `code_execution` tool_use, `code_execution_tool_result` its tool_result in
 * the next user turn, and the calls a script made (and their results) disappear: they are internal to it.
 * Refused direct calls (never shown to the client) come back where the upstream made them: those of this
 * response from `produced`, those of a turn the client answered from `refusedBeside`, after the assistant
 * message holding that turn's calls, their results first in the next user turn.
 */
export function upstreamMessages(
  history: readonly Anthropic.MessageParam[],
  produced: readonly UpstreamViewBlock[],
  knownCodeCallIds: ReadonlySet<string>,
  refusedBeside?: RefusedCallLookup,
): Anthropic.MessageParam[] {
  const messages: readonly Anthropic.MessageParam[] =
    produced.length > 0
      ? [...history, { role: "assistant", content: [...produced] as unknown as Anthropic.ContentBlockParam[] }]
      : history;
  const codeCallIds = new Set(knownCodeCallIds);
  for (const message of messages) {
    if (message.role !== "assistant" || typeof message.content === "string") continue;
    for (const block of message.content as unknown as Block[]) {
      if (isCodeCallBlock(block, knownCodeCallIds)) codeCallIds.add(String(block.id));
    }
  }
  const entries: Entry[] = [];
  const injected = new Set<readonly RefusedCall[]>();
  // Only the loop's own blocks may be refused-call blocks; a client's block of that type is not trusted.
  const ours = new Set<unknown>(produced);
  for (const message of messages) {
    if (message.role === "system") {
      entries.push({ role: "system", message });
      continue;
    }
    if (typeof message.content === "string") {
      entries.push({ role: message.role, block: { type: "text", text: message.content } });
      continue;
    }
    const beside: RefusedCall[] = [];
    for (const block of message.content as unknown as Block[]) {
      if (block.type === "ptc_refused_calls" && ours.has(block)) {
        entries.push(...refusedCallEntries((block as unknown as RefusedCallsBlock).calls));
        continue;
      }
      const entry = convertBlock(message.role, block, codeCallIds);
      if (entry) entries.push(entry);
      const kept =
        message.role === "assistant" && (block.type === "tool_use" || block.type === "server_tool_use")
          ? refusedBeside?.(String(block.id))
          : undefined;
      if (kept && !injected.has(kept)) {
        injected.add(kept);
        beside.push(...kept);
      }
    }
    if (beside.length > 0) entries.push(...refusedCallEntries(beside));
  }
  const grouped: Anthropic.MessageParam[] = [];
  for (const entry of entries) {
    if ("message" in entry) {
      grouped.push(entry.message);
      continue;
    }
    const last = grouped.at(-1);
    if (last && last.role === entry.role && Array.isArray(last.content)) {
      (last.content as Anthropic.ContentBlockParam[]).push(entry.block);
    } else grouped.push({ role: entry.role, content: [entry.block] } as Anthropic.MessageParam);
  }
  return closeDanglingCalls(grouped, (call) =>
    call.name === CODE_EXECUTION_TOOL_NAME ? "Code execution did not finish." : undefined,
  );
}

export interface UpstreamTurn {
  produced: readonly UpstreamViewBlock[];
  knownCodeCallIds: ReadonlySet<string>;
  /** Refused calls of earlier responses, kept beside the client-visible calls of their turn. */
  refusedBeside?: RefusedCallLookup;
  /** `any`/`tool` choices force a call; only the first turn of a fresh request gets them, or the loop never ends. */
  forceToolChoice: boolean;
}

export function upstreamRequest(request: ValidatedRequest, tools: RequestTools, turn: UpstreamTurn): UpstreamRequest {
  const upstream: UpstreamRequest = {
    model: request.model,
    max_tokens: request.maxTokens,
    messages: upstreamMessages(request.messages, turn.produced, turn.knownCodeCallIds, turn.refusedBeside),
  };
  if (request.system !== undefined) upstream.system = request.system;
  if (tools.upstreamTools !== undefined) upstream.tools = tools.upstreamTools;
  const choice = request.toolChoice;
  if (choice && (turn.forceToolChoice || choice.type === "auto" || choice.type === "none"))
    upstream.tool_choice = choice;
  if (request.temperature !== undefined) upstream.temperature = request.temperature;
  if (request.topP !== undefined) upstream.top_p = request.topP;
  if (request.stopSequences !== undefined) upstream.stop_sequences = request.stopSequences;
  return upstream;
}
