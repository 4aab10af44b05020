import type Anthropic from "@anthropic-ai/sdk";
import { isJsonObject } from "../../protocol/json-schema.js";
import { CIRCULAR_REF_MESSAGE, invalidRequest } from "./anthropic-errors.js";

/** The code-execution tool versions that support programmatic tool calling (`allowed_callers`). */
export const CODE_TOOL_VERSIONS = [
  "code_execution_20250825",
  "code_execution_20260120",
  "code_execution_20260521",
] as const;
export type CodeToolVersion = (typeof CODE_TOOL_VERSIONS)[number];

const CALLER_VALUES = new Set<string>(["direct", ...CODE_TOOL_VERSIONS]);
/** Anthropic's rule for custom tool names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
/** Bounds the walk over a client's schema (depth and nodes), which is untrusted input. */
const MAX_SCHEMA_DEPTH = 64;
const MAX_SCHEMA_NODES = 20_000;

/** A custom tool as the client declared it, with its callers resolved. */
export interface ClientTool {
  name: string;
  description: string | undefined;
  inputSchema: Anthropic.Tool.InputSchema;
  direct: boolean;
  fromCode: boolean;
}

export interface ValidatedTools {
  codeTool: CodeToolVersion | undefined;
  tools: ClientTool[];
  toolChoice: Anthropic.ToolChoice | undefined;
}

type Json = Record<string, unknown>;

/** Resolves a local JSON pointer (`#/$defs/node`) inside `root`; undefined when it does not resolve. */
function resolvePointer(root: unknown, pointer: string): unknown {
  if (pointer === "#") return root;
  if (!pointer.startsWith("#/")) return undefined;
  let node: unknown = root;
  for (const raw of pointer.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isJsonObject(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}

/**
 * True when following local `$ref`s from the root can reach a reference already being expanded (a
 * schema that would expand forever). Anthropic rejects these, so ptc does too, before any model sees it.
 */
export function hasCircularRef(schema: unknown): boolean {
  let nodes = 0;
  const visit = (node: unknown, expanding: readonly string[], depth: number): boolean => {
    if (++nodes > MAX_SCHEMA_NODES || depth > MAX_SCHEMA_DEPTH) return false;
    if (Array.isArray(node)) return node.some((item) => visit(item, expanding, depth + 1));
    if (!isJsonObject(node)) return false;
    const ref = node.$ref;
    if (typeof ref === "string" && ref.startsWith("#")) {
      if (expanding.includes(ref)) return true;
      const target = resolvePointer(schema, ref);
      if (target !== undefined && visit(target, [...expanding, ref], depth + 1)) return true;
    }
    for (const [key, value] of Object.entries(node)) {
      // Definitions are checked where they are used, not on their own.
      if (key === "$ref" || key === "$defs" || key === "definitions") continue;
      if (visit(value, expanding, depth + 1)) return true;
    }
    return false;
  };
  return visit(schema, ["#"], 0);
}

function validateCustomTool(tool: Json, index: number, codeTool: CodeToolVersion | undefined): ClientTool {
  const where = `tools.${index}`;
  const { name, description, input_schema: schema, allowed_callers: callers, strict } = tool;
  if (typeof name !== "string" || !TOOL_NAME.test(name)) {
    throw invalidRequest(`${where}.name: String should match pattern '${TOOL_NAME.source}'`);
  }
  if (description !== undefined && typeof description !== "string") {
    throw invalidRequest(`${where}.description: Input should be a valid string`);
  }
  if (!isJsonObject(schema)) throw invalidRequest(`${where}.input_schema: Field required (a JSON Schema object)`);
  if (schema.type !== "object") throw invalidRequest(`${where}.input_schema.type: Input should be 'object'`);
  if (hasCircularRef(schema)) throw invalidRequest(`${CIRCULAR_REF_MESSAGE} in ${where}.input_schema (tool "${name}")`);
  if (strict !== undefined && typeof strict !== "boolean") {
    throw invalidRequest(`${where}.strict: Input should be a valid boolean`);
  }
  let direct = true;
  let fromCode = false;
  if (callers !== undefined) {
    if (!Array.isArray(callers) || callers.length === 0) {
      throw invalidRequest(`${where}.allowed_callers: must be a non-empty list of ${[...CALLER_VALUES].join(", ")}`);
    }
    for (const caller of callers) {
      if (typeof caller !== "string" || !CALLER_VALUES.has(caller)) {
        throw invalidRequest(
          `${where}.allowed_callers: unknown caller ${JSON.stringify(caller)}; expected one of ${[...CALLER_VALUES].join(", ")}`,
        );
      }
    }
    direct = callers.includes("direct");
    fromCode = callers.some((caller) => caller !== "direct");
  }
  if (fromCode && codeTool === undefined) {
    throw invalidRequest(
      `${where}: tool "${name}" lists a code execution caller in allowed_callers, but the request has no code execution tool (add {"type": "code_execution_20260120", "name": "code_execution"})`,
    );
  }
  if (fromCode && strict === true) {
    throw invalidRequest(
      `${where}: tool "${name}" has strict: true, and strict tools cannot be called from code execution`,
    );
  }
  return {
    name,
    description: description as string | undefined,
    inputSchema: schema as Anthropic.Tool.InputSchema,
    direct,
    fromCode,
  };
}

function validateToolChoice(choice: unknown, tools: readonly ClientTool[], codeTool: CodeToolVersion | undefined) {
  if (choice === undefined) return undefined;
  if (!isJsonObject(choice) || !["auto", "any", "tool", "none"].includes(String(choice.type))) {
    throw invalidRequest("tool_choice: Input should be an object with type 'auto', 'any', 'tool' or 'none'");
  }
  if (choice.disable_parallel_tool_use !== undefined && typeof choice.disable_parallel_tool_use !== "boolean") {
    throw invalidRequest("tool_choice.disable_parallel_tool_use: Input should be a valid boolean");
  }
  if (choice.disable_parallel_tool_use === true && codeTool !== undefined) {
    throw invalidRequest("tool_choice.disable_parallel_tool_use is not supported with programmatic tool calling");
  }
  if (choice.type === "tool") {
    const name = choice.name;
    if (typeof name !== "string") throw invalidRequest("tool_choice.name: Field required");
    const tool = tools.find((candidate) => candidate.name === name);
    if (name === "code_execution" && codeTool !== undefined) return choice as unknown as Anthropic.ToolChoice;
    if (!tool) throw invalidRequest(`tool_choice: tool "${name}" is not in tools`);
    if (!tool.direct) {
      throw invalidRequest(
        `tool_choice: tool "${name}" can only be called from code execution (allowed_callers), so it cannot be forced with tool_choice`,
      );
    }
  }
  return choice as unknown as Anthropic.ToolChoice;
}

/** Checks `tools` and `tool_choice` against Anthropic's documented rules for programmatic tool calling. */
export function validateTools(rawTools: unknown, rawChoice: unknown): ValidatedTools {
  if (rawTools !== undefined && !Array.isArray(rawTools)) throw invalidRequest("tools: Input should be a valid list");
  const entries = (rawTools ?? []) as unknown[];
  let codeTool: CodeToolVersion | undefined;
  entries.forEach((tool, index) => {
    if (!isJsonObject(tool)) throw invalidRequest(`tools.${index}: Input should be an object`);
    if (typeof tool.type !== "string" || !tool.type.startsWith("code_execution_")) return;
    if (!(CODE_TOOL_VERSIONS as readonly string[]).includes(tool.type)) {
      throw invalidRequest(
        `tools.${index}: ${tool.type} does not support programmatic tool calling; use one of ${CODE_TOOL_VERSIONS.join(", ")}`,
      );
    }
    if (tool.name !== "code_execution") throw invalidRequest(`tools.${index}.name: Input should be 'code_execution'`);
    if (codeTool !== undefined) throw invalidRequest("tools: only one code execution tool may be given");
    codeTool = tool.type as CodeToolVersion;
  });
  const tools: ClientTool[] = [];
  const names = new Set<string>();
  entries.forEach((tool, index) => {
    const entry = tool as Json;
    if (typeof entry.type === "string" && entry.type.startsWith("code_execution_")) return;
    if (entry.type !== undefined && entry.type !== "custom") {
      throw invalidRequest(
        `tools.${index}: tool type ${JSON.stringify(entry.type)} is not supported by this server (custom tools and the code execution tool only)`,
      );
    }
    const validated = validateCustomTool(entry, index, codeTool);
    if (names.has(validated.name) || (validated.name === "code_execution" && codeTool !== undefined)) {
      throw invalidRequest(`tools: Tool names must be unique (${validated.name})`);
    }
    names.add(validated.name);
    tools.push(validated);
  });
  return { codeTool, tools, toolChoice: validateToolChoice(rawChoice, tools, codeTool) };
}
