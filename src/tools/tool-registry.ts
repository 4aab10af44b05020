import type { ValidateFunction } from "ajv";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ResultMode } from "../protocol/execution.js";
import { isJsonObject } from "../protocol/json-schema.js";
import type { JsonSchemaToolDefinition, ToolCaller, ToolDefinition } from "../protocol/tool.js";
import { normalizeCallers } from "./allowed-callers.js";
import { inspectToolInput } from "./input-guard.js";
import { acknowledgeDirectOnly, warnNotCallableFromCode } from "./not-callable-warning.js";
import { toPythonName } from "./python-names.js";
import { generatePythonStubs } from "./python-stubs.js";
import { resolveToolDefinition } from "./schema-source.js";
import { describeValidationErrors, SchemaCompiler } from "./schema-validator.js";
import { generateTypeScriptDeclarations } from "./typescript-stubs.js";

export interface RegisteredTool {
  /** Schemas as JSON Schema: zod and Standard Schemas are converted once, here (`resolveToolDefinition`). */
  readonly definition: JsonSchemaToolDefinition;
  readonly name: string;
  readonly pythonName: string;
  readonly callers: ReadonlySet<ToolCaller>;
  readonly allowedFromCode: boolean;
  readonly allowedDirect: boolean;
}

export type InputCheck =
  | { ok: true; input: Record<string, unknown> }
  | {
      ok: false;
      code: "invalid_tool_input" | "tool_not_found" | "tool_not_allowed";
      message: string;
      /** The input must not be kept in records (nested too deeply to serialise again safely). */
      unrecordable?: true;
    };

export interface ToolRegistryOptions {
  /**
   * The caller answers direct calls itself (an agent loop, an MCP server): tools that are direct-only,
   * `allowedCallers` omitted included, are meant that way there, so `from` does not warn about them, and
   * neither do later registries of the same definition objects (an engine's, for instance).
   */
  servesDirectCalls?: boolean;
}

/** Anthropic's tool-name rule, plus `.` which MCP servers use for namespacing. */
const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** Names in error messages come from the script; keep them short. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
}

function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value === "object" ? "non-plain object" : typeof value;
}

/** Why a script may not call this tool; the guest's stub raises the same words (guest.py). */
function notCallableMessage(tool: RegisteredTool): string {
  return `Tool ${quoted(tool.name)} is not callable from code: allowed_callers is ${JSON.stringify([...tool.callers])}`;
}

function invalid(message: string, details: Record<string, unknown>): PtcError {
  return new PtcError(ErrorCode.InvalidRequest, message, details);
}

function register(source: ToolDefinition, compiler: SchemaCompiler): [RegisteredTool, ValidateFunction] {
  if (typeof source !== "object" || source === null) throw invalid("Each tool must be an object", {});
  const { name } = source;
  if (typeof name !== "string" || !TOOL_NAME.test(name)) {
    throw invalid(`Invalid tool name ${quoted(String(name))}: must match ${TOOL_NAME.source}`, { tool: String(name) });
  }
  const definition = resolveToolDefinition(source);
  if (!isJsonObject(definition.inputSchema) || definition.inputSchema.type !== "object") {
    throw invalid(`Tool ${quoted(name)}: inputSchema must be a JSON Schema with "type": "object"`, { tool: name });
  }
  if (definition.outputSchema !== undefined && !isJsonObject(definition.outputSchema)) {
    throw invalid(`Tool ${quoted(name)}: outputSchema must be a JSON Schema object`, { tool: name });
  }
  if (definition.handler !== undefined && typeof definition.handler !== "function") {
    throw invalid(`Tool ${quoted(name)}: handler must be a function`, { tool: name });
  }
  let callers: ReadonlySet<ToolCaller>;
  let validate: ValidateFunction;
  try {
    callers = normalizeCallers(definition.allowedCallers);
  } catch (error) {
    throw invalid(`Tool ${quoted(name)}: ${error instanceof Error ? error.message : String(error)}`, { tool: name });
  }
  try {
    validate = compiler.compile(definition.inputSchema);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalid(`Tool ${quoted(name)}: inputSchema is not a valid JSON Schema: ${reason}`, { tool: name });
  }
  const tool: RegisteredTool = Object.freeze({
    definition,
    name,
    pythonName: toPythonName(name),
    callers,
    allowedFromCode: callers.has("code_execution"),
    allowedDirect: callers.has("direct"),
  });
  return [tool, validate];
}

/**
 * The validated, immutable set of tools an engine serves. `codeTools()` are callable inside the sandbox;
 * `notCallableFromCode()` exist there only as stubs that raise `ToolError` `tool_not_allowed`.
 */
export class ToolRegistry {
  private readonly tools: readonly RegisteredTool[];
  private readonly byName: ReadonlyMap<string, RegisteredTool>;
  private readonly validators: ReadonlyMap<string, ValidateFunction>;
  private readonly stubCache = new Map<string, string>();

  private constructor(entries: readonly (readonly [RegisteredTool, ValidateFunction])[]) {
    this.tools = Object.freeze(entries.map(([tool]) => tool));
    this.byName = new Map(entries.map(([tool]) => [tool.name, tool]));
    this.validators = new Map(entries.map(([tool, validate]) => [tool.name, validate]));
  }

  /**
   * Validates every definition and compiles input schemas once; throws PtcError `invalid_request`. Tools
   * with a handler that code cannot call (`allowedCallers` defaults to `["direct"]`) are named in a process
   * warning, code `PTC_TOOLS_NOT_CALLABLE_FROM_CODE`, once per definition (see `warnNotCallableFromCode`).
   */
  static from(tools: readonly ToolDefinition[], options: ToolRegistryOptions = {}): ToolRegistry {
    if (!Array.isArray(tools)) throw invalid("tools must be an array of tool definitions", {});
    const compiler = new SchemaCompiler();
    const entries: [RegisteredTool, ValidateFunction][] = [];
    const names = new Set<string>();
    const pythonNames = new Map<string, string>();
    for (const definition of tools) {
      const entry = register(definition, compiler);
      const { name, pythonName } = entry[0];
      if (names.has(name)) throw invalid(`Duplicate tool name ${quoted(name)}`, { tool: name });
      const other = pythonNames.get(pythonName);
      if (other !== undefined) {
        throw invalid(`Tools ${quoted(other)} and ${quoted(name)} would both be called ${pythonName}() in Python`, {
          tool: name,
          conflictsWith: other,
          pythonName,
        });
      }
      names.add(name);
      pythonNames.set(pythonName, name);
      entries.push(entry);
    }
    const registry = new ToolRegistry(entries);
    const directOnly = registry.notCallableFromCode().map((tool) => tool.definition);
    if (options.servesDirectCalls === true) acknowledgeDirectOnly(directOnly);
    else warnNotCallableFromCode(directOnly.filter((definition) => definition.handler !== undefined));
    return registry;
  }

  list(): readonly RegisteredTool[] {
    return this.tools;
  }

  get(name: string): RegisteredTool | undefined {
    return this.byName.get(name);
  }

  directTools(): readonly RegisteredTool[] {
    return this.tools.filter((tool) => tool.allowedDirect);
  }

  /** The tools scripts can call. */
  codeTools(): readonly RegisteredTool[] {
    return this.tools.filter((tool) => tool.allowedFromCode);
  }

  /** Direct-only tools: the sandbox knows their names only to raise `tool_not_allowed`, and the host refuses them. */
  notCallableFromCode(): readonly RegisteredTool[] {
    return this.tools.filter((tool) => !tool.allowedFromCode);
  }

  /**
   * Checks a call a script made. `input` comes straight from JSON.parse, so it is validated as-is and returned
   * as the same object, never merged into another (a `__proto__` key stays an ordinary own property).
   * `json` is the text it was parsed from, so that integers JSON.parse would round are refused.
   */
  checkCodeCall(name: string, input: unknown, json?: string): InputCheck {
    const tool = typeof name === "string" ? this.byName.get(name) : undefined;
    if (tool === undefined) {
      return { ok: false, code: ErrorCode.ToolNotFound, message: `Tool ${quoted(String(name))} is not available` };
    }
    // Direct-only tools are named in the sandbox (their stubs raise this without calling): the model saw
    // them, so the script may know they exist. Only their handlers stay out of its reach.
    if (!tool.allowedFromCode) return { ok: false, code: ErrorCode.ToolNotAllowed, message: notCallableMessage(tool) };
    return this.validateInput(name, input, json);
  }

  /**
   * Validates the input of a registered tool against its compiled schema, whoever the caller is, after
   * the checks JSON Schema cannot express (`inspectToolInput`: unsafe integers, non-finite numbers, depth).
   */
  validateInput(name: string, input: unknown, json?: string): InputCheck {
    if (!isJsonObject(input)) {
      return {
        ok: false,
        code: ErrorCode.InvalidToolInput,
        message: `Invalid input for tool ${quoted(name)}: arguments must be an object, got ${jsonKind(input)}`,
      };
    }
    const problem = inspectToolInput(input, json);
    if (problem !== undefined) {
      const message = `Invalid input for tool ${quoted(name)}: ${problem.message}`;
      return {
        ok: false,
        code: ErrorCode.InvalidToolInput,
        message,
        ...(problem.tooDeep ? { unrecordable: true } : {}),
      };
    }
    const validate = this.validators.get(name);
    if (validate !== undefined && !validate(input)) {
      return {
        ok: false,
        code: ErrorCode.InvalidToolInput,
        message: `Invalid input for tool ${quoted(name)}: ${describeValidationErrors(validate.errors)}`,
      };
    }
    return { ok: true, input };
  }

  /** Python declarations of `codeTools()` for the model's prompt; cached per result mode. */
  pythonStubs(options: { resultMode?: ResultMode } = {}): string {
    const mode = options.resultMode ?? "json";
    return this.cached(`python ${mode}`, () => generatePythonStubs(this.codeTools(), { resultMode: mode }));
  }

  /** TypeScript declarations of `codeTools()` (`declare const tools: {...}` and the globals); cached per result mode. */
  typescriptDeclarations(options: { resultMode?: ResultMode } = {}): string {
    const mode = options.resultMode ?? "json";
    return this.cached(`typescript ${mode}`, () =>
      generateTypeScriptDeclarations(this.codeTools(), { resultMode: mode }),
    );
  }

  private cached(key: string, generate: () => string): string {
    let stubs = this.stubCache.get(key);
    if (stubs === undefined) {
      stubs = generate();
      this.stubCache.set(key, stubs);
    }
    return stubs;
  }
}
