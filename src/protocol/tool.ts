import type { JsonSchema } from "./json-schema.js";

/** Who may call a tool: the model itself, or code running in the sandbox. */
export type ToolCaller = "direct" | "code_execution";

/**
 * Spellings accepted for `allowedCallers`. Anthropic versions its code-execution caller
 * (`code_execution_20250825`, `code_execution_20260120`, ...); OpenAI calls it `programmatic`.
 */
export type ToolCallerSpelling = ToolCaller | `code_execution_${string}` | "programmatic";

export interface ToolCallContext {
  /** Host-assigned id of this call, unique across executions. */
  readonly callId: string;
  readonly executionId: string;
  readonly containerId: string;
  readonly caller: ToolCaller;
  /** Aborted when the call times out or the execution ends. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds at which the call times out (the per-tool timeout); sources pass it on as their own timeout. */
  readonly deadline: number;
  /**
   * A result larger than this (as JSON) fails the call with `tool_result_too_large`: a source reading a
   * response over the network stops reading past it instead of buffering the rest.
   */
  readonly maxResultBytes?: number;
}

export type ToolHandler<Input = Record<string, unknown>, Output = unknown> = (
  input: Input,
  context: ToolCallContext,
) => Output | Promise<Output>;

/**
 * The Standard Schema properties (https://standardschema.dev), declared here so the protocol needs no
 * dependency. `validate` is Standard Schema v1; `jsonSchema` is Standard JSON Schema v1
 * (https://standardschema.dev/json-schema), which zod 4.2+, ArkType 2.1.28+ and valibot 1.2+ (through
 * `toStandardJsonSchema()` from `@valibot/to-json-schema`) implement. Both are optional here: a schema
 * library types one or the other, and the registry checks at run time what it needs.
 */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1;
  readonly vendor: string;
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  readonly validate?: (
    value: unknown,
    options?: { readonly libraryOptions?: Record<string, unknown> | undefined } | undefined,
  ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  readonly jsonSchema?: StandardJsonSchemaConverter | undefined;
}

export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaIssue[] };

export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** Standard JSON Schema's converter: the JSON Schema of the values a schema accepts (`input`) or produces (`output`). */
export interface StandardJsonSchemaConverter {
  readonly input: (options: StandardJsonSchemaOptions) => Record<string, unknown>;
  readonly output: (options: StandardJsonSchemaOptions) => Record<string, unknown>;
}

export interface StandardJsonSchemaOptions {
  /** `"draft-2020-12"`, `"draft-07"`, `"openapi-3.0"` or a library's own; a library throws for one it lacks. */
  readonly target: string;
  readonly libraryOptions?: Record<string, unknown> | undefined;
}

/** Anything with Standard Schema properties: a zod 4 schema, an ArkType type, a valibot schema, ... */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaProps<Input, Output>;
}

/**
 * A tool's `inputSchema` or `outputSchema`: JSON Schema, or a schema object (zod 4, or any Standard Schema
 * that converts itself to JSON Schema) which the registry turns into JSON Schema once.
 */
export type ToolSchema = JsonSchema | StandardSchema;

/** What a tool's handler receives: a schema's parsed (`output`) type; for JSON Schema, any JSON object. */
export type InferToolInput<Schema> = Schema extends {
  readonly "~standard": { readonly types?: { readonly output: infer Output } | undefined };
}
  ? Output
  : Record<string, unknown>;

/** What a tool's handler returns: a schema's `output` type (what the script receives); for JSON Schema, unknown. */
export type InferToolOutput<Schema> = Schema extends {
  readonly "~standard": { readonly types?: { readonly output: infer Output } | undefined };
}
  ? Output
  : unknown;

export interface ToolDefinition<Input = Record<string, unknown>, Output = unknown> {
  name: string;
  description?: string;
  /**
   * JSON Schema with `"type": "object"`, or a zod 4 / Standard Schema object (see `ToolSchema`). A schema
   * object's own validation also runs before the handler, which receives its parsed value.
   */
  inputSchema: ToolSchema;
  /** The result's shape, for the Python stubs and tool lists; not checked at run time. */
  outputSchema?: ToolSchema;
  /** Default: `["direct"]`, as in Anthropic's API. A tool not allowed from code does not exist in the sandbox. */
  allowedCallers?: readonly ToolCallerSpelling[];
  /**
   * Without a handler a call stays pending until the caller submits its result. Declared as a
   * method so a tool with a typed input still fits a list of `ToolDefinition`s.
   */
  handler?(input: Input, context: ToolCallContext): Output | Promise<Output>;
}

/** A definition as a `ToolRegistry` holds it: both schemas are JSON Schema. */
export interface JsonSchemaToolDefinition<Input = Record<string, unknown>, Output = unknown>
  extends ToolDefinition<Input, Output> {
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
}

/** A definition whose handler types come from its schemas: what `defineTool` returns for schema objects. */
export interface TypedToolDefinition<InputSchema extends ToolSchema, OutputSchema extends ToolSchema | undefined>
  extends ToolDefinition<InferToolInput<InputSchema>, InferToolOutput<OutputSchema>> {
  inputSchema: InputSchema;
  outputSchema?: OutputSchema;
}

/**
 * Keeps the definition a plain object while typing its handler. With schema objects the types come from
 * them: `defineTool({ inputSchema: z.object({ region: z.string() }), handler: ({ region }) => ... })`
 * gives `region: string`, and a zod `outputSchema` types the handler's result. With JSON Schema, name
 * the types instead: `defineTool<{ region: string }, Order[]>({ ... })`.
 */
export function defineTool<InputSchema extends ToolSchema, OutputSchema extends ToolSchema | undefined = undefined>(
  definition: TypedToolDefinition<InputSchema, OutputSchema>,
): TypedToolDefinition<InputSchema, OutputSchema>;
export function defineTool<Input = Record<string, unknown>, Output = unknown>(
  definition: JsonSchemaToolDefinition<Input, Output>,
): JsonSchemaToolDefinition<Input, Output>;
export function defineTool(definition: ToolDefinition): ToolDefinition {
  return definition;
}
