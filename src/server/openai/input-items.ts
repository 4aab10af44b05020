import { isJsonObject } from "../../protocol/json-schema.js";
import { openaiInvalid } from "./openai-errors.js";

/** A content part of a message item, as the SDK sends it. */
export type ContentPart =
  | { type: "input_text" | "output_text"; text: string }
  | { type: "input_image"; image_url: string }
  | { type: "refusal"; refusal: string };

/** `caller` of a function call (or its output): made by a program, or (absent or `direct`) by the model. */
export type ItemCaller = { type: "program"; caller_id: string } | { type: "direct" };

/**
 * An input item after validation: only what this endpoint uses, in trusted types. `reasoning` items are
 * kept (they may come back in a later request) but never reach the upstream: they belong to the model that
 * wrote them. `item_reference`s are resolved against the store before anything else looks at the input.
 */
export type InputItem =
  | {
      type: "message";
      /** An output message's id (`msg_…`), kept so a stored conversation lists it under the same id. */
      id?: string;
      role: "user" | "assistant" | "system" | "developer";
      content: string | ContentPart[];
    }
  | { type: "function_call"; id?: string; call_id: string; name: string; arguments: string; caller?: ItemCaller }
  | { type: "function_call_output"; call_id: string; output: string | ContentPart[]; caller?: ItemCaller }
  | { type: "program"; id: string; call_id: string; code: string; fingerprint: string }
  | { type: "program_output"; id?: string; call_id: string; result: string; status: "completed" | "incomplete" }
  | { type: "item_reference"; id: string }
  | { type: "reasoning"; id?: string };

const ITEM_TYPES = [
  "message",
  "function_call",
  "function_call_output",
  "program",
  "program_output",
  "item_reference",
  "reasoning",
];
const ROLES = ["user", "assistant", "system", "developer"];

/** OpenAI's wording for a value of the wrong JSON type (`Invalid type for 'input[2].call_id': …`). */
export function invalidType(param: string, expected: string, value: unknown): never {
  const got = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
  throw openaiInvalid(
    `Invalid type for '${param}': expected ${expected}, but got ${got} instead.`,
    param,
    "invalid_type",
  );
}

export function missing(param: string): never {
  throw openaiInvalid(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
}

/** OpenAI's wording for a value outside an enumeration. */
export function invalidValue(param: string, value: unknown, supported: readonly string[]): never {
  const list = supported.map((item) => `'${item}'`);
  const shown = list.length > 1 ? `${list.slice(0, -1).join(", ")}, and ${list.at(-1)}` : (list[0] ?? "");
  throw openaiInvalid(`Invalid value: '${String(value)}'. Supported values are: ${shown}.`, param, "invalid_value");
}

export function requireString(item: Record<string, unknown>, key: string, where: string): string {
  const value = item[key];
  if (value === undefined || value === null) missing(`${where}.${key}`);
  if (typeof value !== "string") invalidType(`${where}.${key}`, "a string", value);
  return value;
}

function optionalString(item: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = item[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") invalidType(`${where}.${key}`, "a string", value);
  return value;
}

function contentParts(value: unknown, where: string): string | ContentPart[] {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) invalidType(where, "a string or an array of content parts", value);
  return value.map((part, index): ContentPart => {
    const at = `${where}[${index}]`;
    if (!isJsonObject(part)) invalidType(at, "an object", part);
    switch (part.type) {
      case "input_text":
      case "output_text":
        return { type: part.type, text: requireString(part, "text", at) };
      case "refusal":
        return { type: "refusal", refusal: requireString(part, "refusal", at) };
      case "input_image": {
        const url = optionalString(part, "image_url", at);
        if (url === undefined) {
          throw openaiInvalid(
            `${at}: only images given by image_url (an https: or data: URL) are supported, not file_id`,
            `${at}.image_url`,
            "unsupported_value",
          );
        }
        return { type: "input_image", image_url: url };
      }
      default:
        return invalidValue(`${at}.type`, part.type, ["input_text", "output_text", "input_image", "refusal"]);
    }
  });
}

function caller(value: unknown, where: string): ItemCaller | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) invalidType(where, "an object", value);
  if (value.type === "direct") return { type: "direct" };
  if (value.type !== "program") invalidValue(`${where}.type`, value.type, ["direct", "program"]);
  return { type: "program", caller_id: requireString(value, "caller_id", where) };
}

function item(raw: unknown, where: string): InputItem {
  if (!isJsonObject(raw)) invalidType(where, "an object", raw);
  // EasyInputMessage: `{role, content}` without a type.
  const type = raw.type ?? (raw.role !== undefined ? "message" : undefined);
  if (type === undefined) missing(`${where}.type`);
  if (typeof type !== "string" || !ITEM_TYPES.includes(type)) return invalidValue(`${where}.type`, type, ITEM_TYPES);
  switch (type) {
    case "message": {
      const role = raw.role;
      if (typeof role !== "string" || !ROLES.includes(role)) return invalidValue(`${where}.role`, role, ROLES);
      if (raw.content === undefined) missing(`${where}.content`);
      const message: InputItem = {
        type: "message",
        role: role as "user" | "assistant" | "system" | "developer",
        content: contentParts(raw.content, `${where}.content`),
      };
      const id = optionalString(raw, "id", where);
      if (id !== undefined) message.id = id;
      return message;
    }
    case "function_call": {
      const call: InputItem = {
        type: "function_call",
        call_id: requireString(raw, "call_id", where),
        name: requireString(raw, "name", where),
        arguments: requireString(raw, "arguments", where),
      };
      const id = optionalString(raw, "id", where);
      if (id !== undefined) call.id = id;
      const by = caller(raw.caller, `${where}.caller`);
      if (by) call.caller = by;
      return call;
    }
    case "function_call_output": {
      if (raw.output === undefined || raw.output === null) missing(`${where}.output`);
      const output: InputItem = {
        type: "function_call_output",
        call_id: requireString(raw, "call_id", where),
        output: contentParts(raw.output, `${where}.output`),
      };
      const by = caller(raw.caller, `${where}.caller`);
      if (by) output.caller = by;
      return output;
    }
    case "program":
      return {
        type: "program",
        id: requireString(raw, "id", where),
        call_id: requireString(raw, "call_id", where),
        code: requireString(raw, "code", where),
        fingerprint: requireString(raw, "fingerprint", where),
      };
    case "program_output": {
      const status = raw.status ?? "completed";
      if (status !== "completed" && status !== "incomplete") {
        return invalidValue(`${where}.status`, status, ["completed", "incomplete"]);
      }
      const output: InputItem = {
        type: "program_output",
        call_id: requireString(raw, "call_id", where),
        result: requireString(raw, "result", where),
        status,
      };
      const id = optionalString(raw, "id", where);
      if (id !== undefined) output.id = id;
      return output;
    }
    case "item_reference":
      return { type: "item_reference", id: requireString(raw, "id", where) };
    default: {
      const id = optionalString(raw, "id", where);
      return id === undefined ? { type: "reasoning" } : { type: "reasoning", id };
    }
  }
}

/** `input`: a string (one user message) or a list of items. */
export function validateInput(raw: unknown): InputItem[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw === "string") return [{ type: "message", role: "user", content: raw }];
  if (!Array.isArray(raw)) return invalidType("input", "a string or an array of input items", raw);
  return raw.map((entry, index) => item(entry, `input[${index}]`));
}

/** An output item the server produced, read back as an input item (a stored response's output). */
export function outputAsInput(output: unknown): InputItem {
  return item(output, "output");
}
