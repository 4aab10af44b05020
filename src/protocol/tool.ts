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

export interface ToolDefinition<Input = Record<string, unknown>, Output = unknown> {
  name: string;
  description?: string;
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  /** Default: `["direct"]`, as in Anthropic's API. A tool not allowed from code does not exist in the sandbox. */
  allowedCallers?: readonly ToolCallerSpelling[];
  /**
   * Without a handler a call stays pending until the caller submits its result. Declared as a
   * method so a tool with a typed input still fits a list of `ToolDefinition`s.
   */
  handler?(input: Input, context: ToolCallContext): Output | Promise<Output>;
}

/** Narrows the handler's input type while keeping the definition a plain object. */
export function defineTool<Input = Record<string, unknown>, Output = unknown>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}
