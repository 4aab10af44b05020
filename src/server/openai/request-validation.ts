import type { JsonSchema } from "../../protocol/json-schema.js";
import { isJsonObject } from "../../protocol/json-schema.js";
import { type InputItem, invalidType, invalidValue, missing, requireString, validateInput } from "./input-items.js";
import { openaiInvalid } from "./openai-errors.js";
import type { WireTool, WireToolChoice } from "./responses-types.js";

/** The tool whose calls are programs (`{type: "programmatic_tool_calling"}` in `tools`). */
export const PROGRAMMATIC_TOOL_TYPE = "programmatic_tool_calling";

/** A function tool of the request, in trusted types. */
export interface FunctionTool {
  name: string;
  description: string | undefined;
  parameters: JsonSchema;
  /** The model may call it itself (`allowed_callers` omitted or with `direct`). */
  direct: boolean;
  /** Programs may call it (`allowed_callers` with `programmatic`). */
  programmatic: boolean;
  /** The JSON the tool's string output encodes: a program receives it parsed. */
  outputSchema: JsonSchema | undefined;
}

/** A Responses request after validation: only what this endpoint uses, in trusted types. */
export interface ResponsesRequest {
  model: string;
  input: InputItem[];
  instructions: string | undefined;
  tools: FunctionTool[];
  /** `{type: "programmatic_tool_calling"}` is among the tools. */
  programmatic: boolean;
  /** The tools as the client sent them (echoed in `Response.tools`). */
  wireTools: WireTool[];
  toolChoice: WireToolChoice;
  store: boolean;
  previousResponseId: string | undefined;
  stream: boolean;
  maxOutputTokens: number | undefined;
  metadata: Record<string, string>;
  parallelToolCalls: boolean;
  temperature: number | undefined;
  topP: number | undefined;
}

/** Without `max_output_tokens`, the upstream (which requires a limit) gets this many. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 8_192;
/** OpenAI's own bounds on `metadata`: 16 pairs, keys up to 64 characters, values up to 512. */
const MAX_METADATA_PAIRS = 16;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 512;
/** OpenAI's rule for function names. */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The parameters of `ResponseCreateParams` (openai 7.60). Those not in `HANDLED` are accepted and ignored
 * (sampling and caching hints an upstream has no use for); a name not in either is OpenAI's
 * `unknown_parameter`, as its API answers it.
 */
const HANDLED = new Set([
  "model",
  "input",
  "instructions",
  "tools",
  "tool_choice",
  "store",
  "previous_response_id",
  "stream",
  "max_output_tokens",
  "metadata",
  "parallel_tool_calls",
  "temperature",
  "top_p",
  "background",
  "conversation",
]);
const IGNORED = new Set([
  "access_programs",
  "background_options",
  "context_management",
  "image",
  "include",
  "max_tool_calls",
  "moderation",
  "prompt",
  "prompt_cache_key",
  "prompt_cache_options",
  "prompt_cache_retention",
  "reasoning",
  "safety_identifier",
  "service_tier",
  "stream_options",
  "text",
  "top_logprobs",
  "truncation",
  "user",
]);

function optionalNumber(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) return invalidType(key, "a decimal", value);
  if (value > max) {
    throw openaiInvalid(
      `Invalid '${key}': decimal above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      key,
      "decimal_above_max_value",
    );
  }
  if (value < min) {
    throw openaiInvalid(
      `Invalid '${key}': decimal below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      key,
      "decimal_below_min_value",
    );
  }
  return value;
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") return invalidType(key, "a boolean", value);
  return value;
}

function validateMetadata(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isJsonObject(raw)) return invalidType("metadata", "an object", raw);
  const entries = Object.entries(raw);
  if (entries.length > MAX_METADATA_PAIRS) {
    throw openaiInvalid(
      `Invalid 'metadata': too many properties. Expected an object with at most ${MAX_METADATA_PAIRS} properties, but got an object with ${entries.length} properties instead.`,
      "metadata",
      "object_above_max_properties",
    );
  }
  for (const [key, value] of entries) {
    if (key.length > MAX_METADATA_KEY) {
      throw openaiInvalid(
        `Invalid 'metadata': key '${key.slice(0, MAX_METADATA_KEY)}…' is longer than ${MAX_METADATA_KEY} characters.`,
        "metadata",
        "invalid_value",
      );
    }
    if (typeof value !== "string") invalidType(`metadata.${key}`, "a string", value);
    if (value.length > MAX_METADATA_VALUE) {
      throw openaiInvalid(
        `Invalid 'metadata.${key}': string too long. Expected a string with maximum length ${MAX_METADATA_VALUE}, but got a string with length ${value.length} instead.`,
        `metadata.${key}`,
        "string_above_max_length",
      );
    }
  }
  return raw as Record<string, string>;
}

function schema(value: unknown, param: string): JsonSchema | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) return invalidType(param, "an object", value);
  return value as JsonSchema;
}

function validateTools(raw: unknown): { tools: FunctionTool[]; programmatic: boolean; wireTools: WireTool[] } {
  if (raw === undefined || raw === null) return { tools: [], programmatic: false, wireTools: [] };
  if (!Array.isArray(raw)) return invalidType("tools", "an array", raw);
  const tools: FunctionTool[] = [];
  let programmatic = false;
  raw.forEach((tool, index) => {
    const where = `tools[${index}]`;
    if (!isJsonObject(tool)) invalidType(where, "an object", tool);
    if (tool.type === PROGRAMMATIC_TOOL_TYPE) {
      programmatic = true;
      return;
    }
    if (tool.type !== "function") {
      throw openaiInvalid(
        `Invalid value: '${String(tool.type)}'. ptc's /v1/responses supports the tool types 'function' and '${PROGRAMMATIC_TOOL_TYPE}'.`,
        `${where}.type`,
        "invalid_value",
      );
    }
    const name = requireString(tool, "name", where);
    if (!FUNCTION_NAME.test(name)) {
      throw openaiInvalid(
        `Invalid '${where}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `${where}.name`,
        "invalid_value",
      );
    }
    if (tools.some((other) => other.name === name)) {
      throw openaiInvalid(`Duplicate tool name: '${name}'.`, `${where}.name`, "invalid_value");
    }
    const callers = tool.allowed_callers ?? ["direct"];
    if (!Array.isArray(callers)) invalidType(`${where}.allowed_callers`, "an array", callers);
    if (callers.length === 0) {
      throw openaiInvalid(
        `Invalid '${where}.allowed_callers': empty array. Expected an array with minimum length 1.`,
        `${where}.allowed_callers`,
        "empty_array",
      );
    }
    callers.forEach((value: unknown, i: number) => {
      if (value !== "direct" && value !== "programmatic") {
        invalidValue(`${where}.allowed_callers[${i}]`, value, ["direct", "programmatic"]);
      }
    });
    const description = tool.description;
    if (description !== undefined && description !== null && typeof description !== "string") {
      invalidType(`${where}.description`, "a string", description);
    }
    tools.push({
      name,
      description: typeof description === "string" ? description : undefined,
      parameters: schema(tool.parameters, `${where}.parameters`) ?? { type: "object", properties: {} },
      direct: callers.includes("direct"),
      programmatic: callers.includes("programmatic"),
      outputSchema: schema(tool.output_schema, `${where}.output_schema`),
    });
  });
  const onlyProgrammatic = tools.find((tool) => tool.programmatic && !programmatic);
  if (onlyProgrammatic) {
    throw openaiInvalid(
      `Tool '${onlyProgrammatic.name}' allows the 'programmatic' caller, which requires the '${PROGRAMMATIC_TOOL_TYPE}' tool in 'tools'.`,
      "tools",
      "invalid_value",
    );
  }
  return { tools, programmatic, wireTools: raw as WireTool[] };
}

function validateToolChoice(raw: unknown, tools: FunctionTool[], programmatic: boolean): WireToolChoice {
  if (raw === undefined || raw === null) return "auto";
  if (typeof raw === "string") {
    if (raw === "auto" || raw === "none" || raw === "required") return raw;
    return invalidValue("tool_choice", raw, ["none", "auto", "required"]);
  }
  if (!isJsonObject(raw)) return invalidType("tool_choice", "a string or an object", raw);
  if (raw.type === PROGRAMMATIC_TOOL_TYPE) {
    if (!programmatic) {
      throw openaiInvalid(
        `Tool choice '${PROGRAMMATIC_TOOL_TYPE}' not found in 'tools' parameter.`,
        "tool_choice",
        "invalid_value",
      );
    }
    return { type: PROGRAMMATIC_TOOL_TYPE };
  }
  if (raw.type !== "function") return invalidValue("tool_choice.type", raw.type, ["function", PROGRAMMATIC_TOOL_TYPE]);
  const name = requireString(raw, "name", "tool_choice");
  const tool = tools.find((candidate) => candidate.name === name);
  if (!tool?.direct) {
    throw openaiInvalid(
      tool
        ? `Tool choice '${name}' is not callable directly: its allowed_callers has no 'direct'.`
        : `Tool choice 'function' not found in 'tools' parameter.`,
      "tool_choice",
      "invalid_value",
    );
  }
  return { type: "function", name };
}

/** Validates an untrusted request body. Throws a `PtcError` in OpenAI's terms (param, code) naming the first problem. */
export function validateRequest(body: unknown): ResponsesRequest {
  if (!isJsonObject(body)) throw openaiInvalid("The request body must be a JSON object.");
  for (const key of Object.keys(body)) {
    if (!HANDLED.has(key) && !IGNORED.has(key)) {
      throw openaiInvalid(`Unknown parameter: '${key}'.`, key, "unknown_parameter");
    }
  }
  if (body.background === true) {
    throw openaiInvalid("background mode is not supported by ptc's /v1/responses.", "background", "unsupported_value");
  }
  if (body.conversation !== undefined && body.conversation !== null) {
    throw openaiInvalid(
      "conversations are not supported by ptc's /v1/responses: use previous_response_id.",
      "conversation",
      "unsupported_parameter",
    );
  }
  const model = body.model;
  if (model === undefined || model === null) missing("model");
  if (typeof model !== "string" || model === "") return invalidType("model", "a non-empty string", model);
  const instructions = body.instructions;
  if (instructions !== undefined && instructions !== null && typeof instructions !== "string") {
    invalidType("instructions", "a string", instructions);
  }
  const maxOutputTokens = body.max_output_tokens;
  if (
    maxOutputTokens !== undefined &&
    maxOutputTokens !== null &&
    (typeof maxOutputTokens !== "number" || !Number.isInteger(maxOutputTokens) || maxOutputTokens < 16)
  ) {
    throw openaiInvalid(
      `Invalid 'max_output_tokens': expected an integer >= 16, but got ${JSON.stringify(maxOutputTokens)} instead.`,
      "max_output_tokens",
      typeof maxOutputTokens === "number" ? "integer_below_min_value" : "invalid_type",
    );
  }
  const previous = body.previous_response_id;
  if (previous !== undefined && previous !== null && typeof previous !== "string") {
    invalidType("previous_response_id", "a string", previous);
  }
  const { tools, programmatic, wireTools } = validateTools(body.tools);
  const input = validateInput(body.input);
  if (input.length === 0 && (previous === undefined || previous === null)) missing("input");
  return {
    model,
    input,
    instructions: typeof instructions === "string" ? instructions : undefined,
    tools,
    programmatic,
    wireTools,
    toolChoice: validateToolChoice(body.tool_choice, tools, programmatic),
    store: optionalBoolean(body, "store") ?? true,
    previousResponseId: typeof previous === "string" ? previous : undefined,
    stream: optionalBoolean(body, "stream") ?? false,
    maxOutputTokens: typeof maxOutputTokens === "number" ? maxOutputTokens : undefined,
    metadata: validateMetadata(body.metadata),
    parallelToolCalls: optionalBoolean(body, "parallel_tool_calls") ?? true,
    temperature: optionalNumber(body, "temperature", 0, 2),
    topP: optionalNumber(body, "top_p", 0, 1),
  };
}
