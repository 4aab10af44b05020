import { z } from "zod";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { JsonSchema } from "../protocol/json-schema.js";
import type {
  JsonSchemaToolDefinition,
  StandardSchema,
  StandardSchemaIssue,
  StandardSchemaProps,
  ToolCallContext,
  ToolDefinition,
} from "../protocol/tool.js";

/** Which values a schema's JSON Schema describes: those it accepts (a tool's input) or those it produces (a result). */
export type SchemaDirection = "input" | "output";

/** Asked of Standard JSON Schema converters in this order: Ajv and MCP speak both; 2020-12 is MCP's default. */
const TARGETS = ["draft-2020-12", "draft-07"] as const;

const MAX_ISSUES = 3;
const MAX_KEY = 64;

/** True for an object with Standard Schema properties (`~standard` of version 1); ArkType's types are functions. */
export function isStandardSchema(value: unknown): value is StandardSchema {
  if ((typeof value !== "object" && typeof value !== "function") || value === null || !("~standard" in value)) {
    return false;
  }
  const props: unknown = value["~standard"];
  return typeof props === "object" && props !== null && "version" in props && props.version === 1;
}

function quoted(name: string): string {
  return JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** zod 4 without `~standard.jsonSchema` (zod/mini, zod 4.0–4.1): its own converter works on any zod 4 schema. */
function isZod4(schema: StandardSchema): boolean {
  return schema["~standard"].vendor === "zod" && "_zod" in schema;
}

function missingConversion(tool: string, field: string, props: StandardSchemaProps): PtcError {
  const vendor = typeof props.vendor === "string" ? props.vendor : "unknown";
  const zod3 = vendor === "zod" ? ' zod 3 schemas have none: use zod 4 (`import { z } from "zod"` at 4.x).' : "";
  return new PtcError(
    ErrorCode.InvalidRequest,
    `Tool ${quoted(tool)}: ${field} is a Standard Schema (vendor ${JSON.stringify(vendor)}) with no JSON Schema ` +
      "conversion. ptc needs JSON Schema for the Python stubs, the tool lists models see and input validation: pass " +
      "a schema that implements Standard JSON Schema (`~standard.jsonSchema`: zod 4, ArkType 2.1.28+, valibot 1.2+ " +
      `through toStandardJsonSchema() from @valibot/to-json-schema), or JSON Schema itself.${zod3}`,
    { tool, field, vendor },
  );
}

function convert(schema: StandardSchema, direction: SchemaDirection, tool: string, field: string): unknown {
  const props = schema["~standard"];
  const converter = props.jsonSchema?.[direction];
  if (typeof converter === "function") {
    let failure: unknown;
    // A library throws for a target it lacks; the spec recommends both, so one of them normally works.
    for (const target of TARGETS) {
      try {
        return converter({ target });
      } catch (error) {
        failure ??= error;
      }
    }
    throw failure;
  }
  if (isZod4(schema)) {
    return z.toJSONSchema(schema as unknown as z.core.$ZodType, { target: "draft-2020-12", io: direction });
  }
  throw missingConversion(tool, field, props);
}

/** Converted schemas by schema object and direction: registries are built per request and per execution. */
const converted: Record<SchemaDirection, WeakMap<object, JsonSchema>> = {
  input: new WeakMap(),
  output: new WeakMap(),
};

/**
 * The JSON Schema of a tool's `inputSchema` (direction `input`) or `outputSchema` (`output`): JSON Schema is
 * returned as it is; a Standard Schema converts itself (`~standard.jsonSchema`, draft 2020-12, else draft-07);
 * a zod 4 schema without that uses `z.toJSONSchema`. Throws PtcError `invalid_request` naming the tool when a
 * schema cannot be converted (no converter, or one that throws, as zod does for transforms in `output`).
 */
export function toolSchemaToJsonSchema(
  schema: unknown,
  direction: SchemaDirection,
  tool: string,
  field = direction === "input" ? "inputSchema" : "outputSchema",
): JsonSchema {
  if (!isStandardSchema(schema)) return schema as JsonSchema;
  const cached = converted[direction].get(schema);
  if (cached !== undefined) return cached;
  let json: unknown;
  try {
    // Copied into plain objects: the registry accepts only plain JSON, and later changes to what a library returned stay out.
    json = JSON.parse(JSON.stringify(convert(schema, direction, tool, field)) ?? "null");
  } catch (error) {
    if (PtcError.is(error)) throw error;
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `Tool ${quoted(tool)}: ${field} could not be converted to JSON Schema: ${reason(error)}`,
      { tool, field },
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `Tool ${quoted(tool)}: ${field}'s JSON Schema conversion returned ${json === null ? "nothing" : Array.isArray(json) ? "an array" : typeof json}, not a JSON Schema object`,
      { tool, field },
    );
  }
  converted[direction].set(schema, json as JsonSchema);
  return json as JsonSchema;
}

function clip(text: string): string {
  return text.length > MAX_KEY ? `${text.slice(0, MAX_KEY)}…` : text;
}

/** `["rows", 0, "first-name"]` → `rows[0]["first-name"]`, as the Ajv messages spell paths. */
function issuePath(path: StandardSchemaIssue["path"]): string {
  let out = "";
  for (const segment of path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(clip(String(key)))}]`;
  }
  return out === "" ? "arguments" : out;
}

/** The first few issues as `path: message`, like `describeValidationErrors`. */
export function describeSchemaIssues(issues: readonly StandardSchemaIssue[]): string {
  if (issues.length === 0) return "arguments: do not match the input schema";
  const shown = issues.slice(0, MAX_ISSUES).map((issue) => `${issuePath(issue.path)}: ${String(issue.message)}`);
  if (issues.length > MAX_ISSUES) shown.push(`(${issues.length - MAX_ISSUES} more)`);
  return shown.join("; ");
}

type Handler = NonNullable<ToolDefinition["handler"]>;

/**
 * The handler the registry runs: the input, already valid against the JSON Schema (Ajv), goes through the
 * schema's own `validate` first, so refinements, transforms and defaults apply and the handler receives the
 * parsed value its type promises. Its issues fail the call with `invalid_tool_input`.
 */
function parsingHandler(definition: ToolDefinition, handler: Handler, props: StandardSchemaProps): Handler {
  const validate = props.validate;
  if (typeof validate !== "function") return handler.bind(definition);
  return async (input: Record<string, unknown>, context: ToolCallContext) => {
    const result = await validate.call(props, input);
    if (result.issues !== undefined) {
      throw new PtcError(
        ErrorCode.InvalidToolInput,
        `Invalid input for tool ${quoted(definition.name)}: ${describeSchemaIssues(result.issues)}`,
      );
    }
    return await handler.call(definition, result.value as Record<string, unknown>, context);
  };
}

interface Resolution {
  readonly inputSchema: unknown;
  readonly outputSchema: unknown;
  readonly handler: unknown;
  readonly resolved: JsonSchemaToolDefinition;
}

/** One resolved definition per definition object, so that registries built from it agree on its identity. */
const resolutions = new WeakMap<object, Resolution>();

/**
 * A definition with JSON Schema for both schemas, as every reader of a registered tool expects (stubs, tool
 * lists, upstream conversions, validation). A definition that has JSON Schema already is returned as is; one
 * with schema objects becomes a copy with their JSON Schema, whose handler (if any) runs the input schema's
 * own validation first and calls the original with the original definition as `this`. Throws PtcError
 * `invalid_request` naming the tool when a schema cannot be converted.
 */
export function resolveToolDefinition(definition: ToolDefinition): JsonSchemaToolDefinition {
  const { inputSchema, outputSchema, handler, ...rest } = definition;
  if (!isStandardSchema(inputSchema) && !isStandardSchema(outputSchema)) {
    return definition as JsonSchemaToolDefinition;
  }
  const cached = resolutions.get(definition);
  if (
    cached !== undefined &&
    cached.inputSchema === inputSchema &&
    cached.outputSchema === outputSchema &&
    cached.handler === handler
  ) {
    return cached.resolved;
  }
  const name = String(definition.name);
  const resolved: JsonSchemaToolDefinition = {
    ...rest,
    inputSchema: toolSchemaToJsonSchema(inputSchema, "input", name),
    ...(outputSchema === undefined ? {} : { outputSchema: toolSchemaToJsonSchema(outputSchema, "output", name) }),
  };
  if (typeof handler === "function") {
    resolved.handler = isStandardSchema(inputSchema)
      ? parsingHandler(definition, handler, inputSchema["~standard"])
      : handler.bind(definition);
  } else if (handler !== undefined) {
    resolved.handler = handler; // not a function: the registry refuses it by name
  }
  resolutions.set(definition, { inputSchema, outputSchema, handler, resolved });
  return resolved;
}
