/**
 * The `ptc-tools/1` wire format (docs/http-tool-protocol.md): types and validation shared by the client
 * (`HttpToolSource`) and servers (examples/tool-server). Kept free of Node and engine dependencies.
 */
import { isJsonObject, type JsonSchema } from "../../protocol/json-schema.js";

export const HTTP_TOOL_PROTOCOL = "ptc-tools/1";
/** Sent on every request so a server can refuse a protocol it does not speak. */
export const PROTOCOL_HEADER = "Ptc-Protocol";
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Larger responses are refused: a tool result this size would not fit in a script's memory anyway. */
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** Anthropic's tool-name rule plus `.`; names end up in URL paths (percent-encoded) and Python names. */
export const TOOL_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export interface WireToolDefinition {
  name: string;
  description?: string;
  input_schema: JsonSchema;
  output_schema?: JsonSchema;
  allowed_callers?: string[];
}

/** `GET {base}/tools`. */
export interface WireToolList {
  protocol?: string;
  tools: WireToolDefinition[];
}

/** `POST {base}/tools/{name}/call`. */
export interface WireCallRequest {
  call_id: string;
  execution_id: string;
  input: Record<string, unknown>;
  /** Milliseconds the client will wait for this answer; work after that is wasted. */
  timeout_ms?: number;
}

export interface WireError {
  /** Machine-readable, e.g. `out_of_stock`; free-form. */
  code?: string;
  message: string;
}

export type WireCallResponse = { content: unknown } | { error: WireError };

/** A response or request that breaks the protocol; the message says which field and why. */
export class HttpToolProtocolError extends Error {
  override readonly name = "HttpToolProtocolError";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Names come from the server: keep them short in messages. */
function shown(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

function validateTool(raw: unknown, index: number): WireToolDefinition {
  if (!isJsonObject(raw)) throw new HttpToolProtocolError(`tools[${index}] must be an object, got ${describe(raw)}`);
  const { name, description, input_schema, output_schema, allowed_callers } = raw;
  if (typeof name !== "string") throw new HttpToolProtocolError(`tools[${index}].name must be a string`);
  const where = `tools[${index}] (${shown(name)})`;
  if (!TOOL_NAME_PATTERN.test(name)) {
    throw new HttpToolProtocolError(`${where}: name must match ${TOOL_NAME_PATTERN.source}`);
  }
  if (description !== undefined && typeof description !== "string") {
    throw new HttpToolProtocolError(`${where}: description must be a string, got ${describe(description)}`);
  }
  if (!isJsonObject(input_schema) || input_schema.type !== "object") {
    throw new HttpToolProtocolError(`${where}: input_schema must be a JSON Schema object with "type": "object"`);
  }
  if (output_schema !== undefined && !isJsonObject(output_schema)) {
    throw new HttpToolProtocolError(`${where}: output_schema must be a JSON Schema object`);
  }
  if (
    allowed_callers !== undefined &&
    (!Array.isArray(allowed_callers) ||
      allowed_callers.length === 0 ||
      !allowed_callers.every((caller) => typeof caller === "string"))
  ) {
    throw new HttpToolProtocolError(`${where}: allowed_callers must be a non-empty array of strings`);
  }
  const tool: WireToolDefinition = { name, input_schema: input_schema as JsonSchema };
  if (description !== undefined) tool.description = description;
  if (output_schema !== undefined) tool.output_schema = output_schema as JsonSchema;
  if (allowed_callers !== undefined) tool.allowed_callers = [...(allowed_callers as string[])];
  return tool;
}

/** Validates a `GET /tools` body: every definition, unique names, and a protocol this client speaks. */
export function parseToolList(body: unknown): WireToolDefinition[] {
  if (!isJsonObject(body))
    throw new HttpToolProtocolError(`the tool list must be a JSON object, got ${describe(body)}`);
  const { protocol, tools } = body;
  if (protocol !== undefined && protocol !== HTTP_TOOL_PROTOCOL) {
    throw new HttpToolProtocolError(
      `the server speaks ${shown(String(protocol))}; this client speaks ${HTTP_TOOL_PROTOCOL}`,
    );
  }
  if (!Array.isArray(tools)) throw new HttpToolProtocolError(`"tools" must be an array, got ${describe(tools)}`);
  const seen = new Set<string>();
  return tools.map((raw, index) => {
    const tool = validateTool(raw, index);
    if (seen.has(tool.name))
      throw new HttpToolProtocolError(`tools[${index}]: duplicate tool name ${shown(tool.name)}`);
    seen.add(tool.name);
    return tool;
  });
}

/** Reads `{"error": {...}}` from any body; undefined when the body has no well-formed error. */
export function parseWireError(body: unknown): WireError | undefined {
  if (!isJsonObject(body) || !isJsonObject(body.error)) return undefined;
  const { code, message } = body.error;
  if (typeof message !== "string") return undefined;
  return typeof code === "string" ? { code, message } : { message };
}

/** Validates a call's response body: exactly one of `content` and `error`. */
export function parseCallResponse(body: unknown): WireCallResponse {
  if (!isJsonObject(body)) throw new HttpToolProtocolError(`the response must be a JSON object, got ${describe(body)}`);
  const hasContent = Object.hasOwn(body, "content");
  const hasError = Object.hasOwn(body, "error");
  if (hasContent && hasError) throw new HttpToolProtocolError(`the response has both "content" and "error"`);
  if (hasContent) return { content: body.content };
  if (!hasError) throw new HttpToolProtocolError(`the response has neither "content" nor "error"`);
  const error = parseWireError(body);
  if (!error) throw new HttpToolProtocolError(`"error" must be an object with a string "message"`);
  return { error };
}

/** Server side: validates a call request body. */
export function parseCallRequest(body: unknown): WireCallRequest {
  if (!isJsonObject(body)) throw new HttpToolProtocolError(`the request must be a JSON object, got ${describe(body)}`);
  const { call_id, execution_id, input, timeout_ms } = body;
  if (typeof call_id !== "string" || call_id === "") throw new HttpToolProtocolError(`"call_id" must be a string`);
  if (typeof execution_id !== "string") throw new HttpToolProtocolError(`"execution_id" must be a string`);
  if (!isJsonObject(input)) throw new HttpToolProtocolError(`"input" must be a JSON object, got ${describe(input)}`);
  if (timeout_ms !== undefined && (typeof timeout_ms !== "number" || !(timeout_ms >= 0))) {
    throw new HttpToolProtocolError(`"timeout_ms" must be a non-negative number`);
  }
  const request: WireCallRequest = { call_id, execution_id, input };
  if (timeout_ms !== undefined) request.timeout_ms = timeout_ms;
  return request;
}

/** `{base}/tools` or `{base}/tools/{name}/call`; keeps the base's path prefix and query. */
export function toolServerUrl(base: string, toolName?: string): URL {
  const url = new URL(base);
  const prefix = url.pathname.replace(/\/+$/, "");
  url.pathname = toolName === undefined ? `${prefix}/tools` : `${prefix}/tools/${encodeURIComponent(toolName)}/call`;
  return url;
}
