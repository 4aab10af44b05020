import type { ResultMode } from "../protocol/execution.js";
import { pascalCase } from "./python-text.js";
import type { RegisteredTool } from "./tool-registry.js";
import { indentLines, jsDoc, propertyKey } from "./typescript-text.js";
import {
  DEFAULT_TYPESCRIPT_MAX_DEPTH,
  DEFAULT_TYPESCRIPT_MAX_NODES,
  requiresSomething,
  TypeScriptTypeMapper,
} from "./typescript-types.js";

export { DEFAULT_TYPESCRIPT_MAX_DEPTH, DEFAULT_TYPESCRIPT_MAX_NODES };

export interface TypeScriptDeclarationOptions {
  /** How results reach the program: `text` makes every tool return `Promise<string>`. Default `json`. */
  resultMode?: ResultMode;
  /**
   * What a tool without an output schema returns: `unknown` (default; ptc's guest hands back the decoded
   * value) or `string` (OpenAI's runtime hands back the output string when no `output_schema` is declared).
   */
  untypedResult?: "unknown" | "string";
  /** The calling-conventions comment and the globals (`text`, `image`, `console`, `ToolError`, ...). Default true. */
  prelude?: boolean;
  /**
   * JSDoc from the tools' descriptions and their schemas' descriptions, defaults and examples. Default true;
   * false gives bare signatures, for a prompt that has the same words already (`execute_code` beside the
   * Python stubs).
   */
  docs?: boolean;
  /** Schemas nested deeper than this are declared `unknown`. Default `DEFAULT_TYPESCRIPT_MAX_DEPTH` (12). */
  maxDepth?: number;
  /** Type nodes per schema before the rest is `unknown`. Default `DEFAULT_TYPESCRIPT_MAX_NODES` (2,000). */
  maxNodes?: number;
}

const CALLING_CONVENTIONS = `// Tools you can call from the program: \`await tools.name({ ...args })\` (top-level await works). Each takes one
// object of arguments and returns a Promise of its result, already decoded. Run independent calls concurrently
// with Promise.all. A failed call throws ToolError; its .code is a stable string such as "invalid_tool_input"
// (past its timeout, ToolTimeoutError with code "tool_timeout"). Only what the program passes to text() (and
// console.log) reaches the model: compute, filter and aggregate in the program and output the answer.`;

const TEXT_MODE_NOTE = `// Every result arrives as a string: JSON text for non-string values (decode it with JSON.parse(result)).`;

/** The globals ptc's JavaScript guest defines beside `tools` (src/sandbox/pyodide/js-guest-globals.ts). */
const GLOBALS = `/** Appends to the program's output (the result the model sees); non-strings as JSON, pieces of several calls on lines of their own. */
declare function text(...values: unknown[]): void;
/** Adds an image to the output: a \`data:image/(png|jpeg|gif|webp);base64,...\` URL or an http(s) URL. */
declare function image(source: string | { url: string }): void;
/** log/info/debug write a line to the program's output; warn/error to its stderr. */
declare const console: {
  log(...values: unknown[]): void;
  info(...values: unknown[]): void;
  debug(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};
/** What a failed tool call throws. */
declare class ToolError extends Error {
  constructor(message: string, options?: { code?: string; tool?: string });
  /** A stable code such as "invalid_tool_input", "tool_not_found" or "tool_timeout". */
  readonly code: string;
  /** The tool whose call failed. */
  readonly tool: string | null;
}
/** What a tool call that ran past its timeout throws. */
declare class ToolTimeoutError extends ToolError {}
declare function setTimeout(callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number | undefined): void;`;

function description(schema: unknown): string {
  if (typeof schema !== "object" || schema === null || !("description" in schema)) return "";
  return typeof schema.description === "string" ? schema.description.trim() : "";
}

interface Resolved {
  readonly mode: ResultMode;
  readonly untyped: string;
  readonly docs: boolean;
}

function method(tool: RegisteredTool, mapper: TypeScriptTypeMapper, options: Resolved): string {
  const base = pascalCase(tool.name);
  const input = tool.definition.inputSchema;
  const args = mapper.map(input, `${base}Args`);
  const output = tool.definition.outputSchema;
  const resultType = output === undefined ? options.untyped : mapper.map(output, `${base}Result`);
  const returns = options.mode === "text" ? "string" : resultType;

  const doc = [tool.definition.description?.trim() || `Calls the ${JSON.stringify(tool.name)} tool.`];
  const outputDoc = description(output);
  if (options.mode === "text" && resultType !== "string") {
    doc.push(
      `@returns JSON text of ${resultType.includes("\n") ? "the result" : resultType}${outputDoc ? `: ${outputDoc}` : ""}`,
    );
  } else if (outputDoc !== "") {
    doc.push(`@returns ${outputDoc}`);
  }
  // Nothing required: `tools.name()` is a call with no arguments.
  const parameter = requiresSomething(input) ? "args" : "args?";
  const signature = `${propertyKey(tool.name)}(${parameter}: ${args}): Promise<${returns}>;`;
  return options.docs ? `${jsDoc(doc)}\n${signature}` : signature;
}

/**
 * TypeScript declarations of the tools a JavaScript or TypeScript program may call, for a model's prompt:
 * `declare const tools: { name(args: {...}): Promise<...> }`, with `$ref`s as `type` aliases and, unless
 * `prelude` is false, the globals the guest defines. Only tools callable from code are declared (the others
 * are absent from `tools`, as the registry's `codeTools()` leaves them out). The text typechecks and is
 * deterministic, so it can sit in a cached prompt prefix.
 */
export function generateTypeScriptDeclarations(
  tools: readonly RegisteredTool[],
  options: TypeScriptDeclarationOptions = {},
): string {
  const resolved: Resolved = {
    mode: options.resultMode ?? "json",
    untyped: options.untypedResult === "string" ? "string" : "unknown",
    docs: options.docs !== false,
  };
  const mapper = new TypeScriptTypeMapper({
    maxDepth: options.maxDepth ?? DEFAULT_TYPESCRIPT_MAX_DEPTH,
    maxNodes: options.maxNodes ?? DEFAULT_TYPESCRIPT_MAX_NODES,
    docs: resolved.docs,
  });
  const methods = tools.filter((tool) => tool.allowedFromCode).map((tool) => method(tool, mapper, resolved));
  const sections: string[] = [];
  if (options.prelude !== false) {
    sections.push(resolved.mode === "text" ? `${CALLING_CONVENTIONS}\n${TEXT_MODE_NOTE}` : CALLING_CONVENTIONS);
  }
  const aliases = mapper.takeDefinitions();
  if (aliases.length > 0) sections.push(aliases.join("\n"));
  const members = methods.map((m) => indentLines(m, "  ")).join("\n");
  sections.push(
    methods.length === 0
      ? "/** No tools are available to the program. */\ndeclare const tools: Record<string, never>;"
      : `declare const tools: {\n${members}\n};`,
  );
  if (options.prelude !== false) sections.push(GLOBALS);
  return `${sections.join("\n\n")}\n`;
}
