import type Anthropic from "@anthropic-ai/sdk";
import { callToolDirectly } from "../engine/direct-tool-call.js";
import type { Engine } from "../engine/engine.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ExecutionResult, ResultMode, ScriptLanguage } from "../protocol/execution.js";
import { isJsonObject } from "../protocol/json-schema.js";
import { type ExecutionLimits, resolveLimits } from "../protocol/limits.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { parseScriptLanguage, stubsFor } from "../tools/script-language.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { AgentMode } from "./agent-types.js";
import {
  CODE_EXECUTION_TOOL_NAME,
  codeExecutionOutput,
  codeExecutionResultText,
  codeExecutionTool,
  LANGUAGE_NAMES,
} from "./code-execution-tool.js";
import { codeOnlyToolMessage, unknownToolMessage } from "./refused-tool-call.js";

export interface ToolRunOutcome {
  /** The tool_result text the model gets back. */
  content: string;
  isError: boolean;
  /** Set for `code_execution` calls that reached the engine. */
  execution?: ExecutionResult;
}

export interface AgentToolboxOptions {
  tools: readonly ToolDefinition[];
  mode: AgentMode;
  /** Called on the first `code_execution` only, so a run that never runs code never starts a sandbox. */
  engine: () => Engine;
  /** The one container every script of the run shares (Python state persists between them). */
  containerId: string;
  runId: string;
  limits?: Partial<ExecutionLimits>;
  resultMode?: ResultMode;
  /** The language of the scripts `code_execution` runs (default Python). */
  language?: ScriptLanguage;
  signal?: AbortSignal;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Just the message: `is_error` marks it, and the OpenAI adapter adds its own "Error: " prefix. */
function failure(message: string): ToolRunOutcome {
  return { content: message, isError: true };
}

/** Strings go back verbatim (as the hosted API delivers them); anything else as JSON. */
function resultText(value: unknown): string {
  if (typeof value === "string") return value;
  const json = JSON.stringify(value ?? null);
  if (json === undefined) throw new Error("the tool returned a value that is not JSON");
  return json;
}

function modelTool(definition: ToolDefinition): Anthropic.Tool {
  return {
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    // The registry has checked `type: "object"`; the SDK's type only spells that out.
    input_schema: definition.inputSchema as Anthropic.Tool.InputSchema,
  };
}

/**
 * The tools one agent run offers the model, and how each tool_use is answered: direct tools run their
 * handler in-process; `code_execution` runs the script in the run's container, whose tool calls run
 * in-process too. Every failure becomes an `isError` outcome; `run` never throws.
 */
export class AgentToolbox {
  readonly modelTools: readonly Anthropic.Tool[];
  readonly #options: AgentToolboxOptions;
  readonly #direct: ReadonlyMap<string, ToolDefinition>;
  readonly #codeExecution: boolean;
  readonly #toolTimeoutMs: number;
  readonly #registry: ToolRegistry;
  readonly #language: ScriptLanguage;

  constructor(options: AgentToolboxOptions) {
    this.#options = options;
    // Checked at run time too: a JavaScript caller may pass anything.
    this.#language = parseScriptLanguage(options.language ?? "python");
    // The agent answers the model's direct calls itself: a direct-only tool with a handler is no mistake here.
    const registry = ToolRegistry.from(options.tools, { servesDirectCalls: true });
    this.#registry = registry;
    if (registry.get(CODE_EXECUTION_TOOL_NAME) !== undefined) {
      throw new PtcError(ErrorCode.InvalidRequest, `"${CODE_EXECUTION_TOOL_NAME}" is reserved for the sandbox tool`);
    }
    this.#toolTimeoutMs = resolveLimits(options.limits).toolTimeoutMs;
    const direct = options.mode === "traditional" ? registry.list() : registry.directTools();
    this.#direct = new Map(direct.map((tool) => [tool.name, tool.definition]));
    this.#codeExecution = options.mode === "programmatic" && registry.codeTools().length > 0;
    const tools = direct.map((tool) => modelTool(tool.definition));
    if (this.#codeExecution) {
      const stubs = stubsFor(registry, this.#language, options.resultMode ?? "json");
      tools.push(codeExecutionTool(stubs, this.#language));
    }
    this.modelTools = tools;
  }

  isCodeExecution(name: string): boolean {
    return this.#codeExecution && name === CODE_EXECUTION_TOOL_NAME;
  }

  /**
   * Why the model may not call `name` directly, or undefined when it may: a code-only tool (reachable
   * through `code_execution` only) or a name the run does not offer. Such a call never reaches a handler.
   */
  refusal(name: string): string | undefined {
    if (this.isCodeExecution(name) || this.#direct.has(name)) return undefined;
    if (this.#codeExecution && this.#registry.get(name)?.allowedFromCode === true) return codeOnlyToolMessage(name);
    return unknownToolMessage(name, "run");
  }

  async run(call: { id: string; name: string; input: unknown }): Promise<ToolRunOutcome> {
    try {
      if (this.isCodeExecution(call.name)) return await this.#runCode(call.input);
      const tool = this.#direct.get(call.name);
      if (tool === undefined) return failure(this.refusal(call.name) ?? unknownToolMessage(call.name, "run"));
      return await this.#runDirect(call.id, tool.name, call.input);
    } catch (error) {
      return failure(errorMessage(error));
    }
  }

  async #runDirect(callId: string, name: string, input: unknown): Promise<ToolRunOutcome> {
    const value = await callToolDirectly(this.#registry, name, input, {
      callId,
      executionId: this.#options.runId,
      containerId: this.#options.containerId,
      timeoutMs: this.#toolTimeoutMs,
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
    });
    return { content: resultText(value), isError: false };
  }

  async #runCode(input: unknown): Promise<ToolRunOutcome> {
    if (!isJsonObject(input) || typeof input.code !== "string") {
      return failure(`${CODE_EXECUTION_TOOL_NAME} takes {"code": "<${LANGUAGE_NAMES[this.#language]} source>"}`);
    }
    const { signal } = this.#options;
    signal?.throwIfAborted();
    const execution = this.#options.engine().execute({
      code: input.code,
      language: this.#language,
      tools: this.#options.tools,
      container: this.#options.containerId,
      ...(this.#options.limits ? { limits: this.#options.limits } : {}),
      ...(this.#options.resultMode ? { resultMode: this.#options.resultMode } : {}),
      runnerWithoutCaller: "this run",
    });
    const cancel = () => execution.cancel("agent run aborted");
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      const result = await execution.result;
      return {
        content: codeExecutionResultText(codeExecutionOutput(result)),
        isError: result.status !== "completed",
        execution: result,
      };
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  }
}
