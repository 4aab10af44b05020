import { randomBytes } from "node:crypto";
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ValidateFunction } from "ajv";
import { PtcError } from "../../protocol/errors.js";
import { describeValidationErrors, SchemaCompiler } from "../../tools/schema-validator.js";
import type { RegisteredTool, ToolRegistry } from "../../tools/tool-registry.js";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * Tools whose `allowedCallers` include `direct`, served as plain MCP tools that call their handler. Tools
 * without a handler are left out (nobody could answer them), as are names the server itself uses.
 */
export class DirectTools {
  readonly #tools = new Map<string, RegisteredTool>();
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(
    registry: ToolRegistry,
    reserved: ReadonlySet<string>,
    private readonly toolTimeoutMs: number,
    log: (line: string) => void,
  ) {
    const compiler = new SchemaCompiler();
    for (const tool of registry.directTools()) {
      if (tool.definition.handler === undefined) continue;
      if (reserved.has(tool.name)) {
        log(`ptc mcp: direct tool ${JSON.stringify(tool.name)} not exposed: the name is reserved for ptc's own tool`);
        continue;
      }
      this.#tools.set(tool.name, tool);
      this.#validators.set(tool.name, compiler.compile(tool.definition.inputSchema));
    }
  }

  has(name: string): boolean {
    return this.#tools.has(name);
  }

  list(): Tool[] {
    return [...this.#tools.values()].map(({ definition }) => {
      const output = definition.outputSchema;
      return {
        name: definition.name,
        ...(definition.description ? { description: definition.description } : {}),
        inputSchema: definition.inputSchema as Tool["inputSchema"],
        // MCP only allows object output schemas; others are simply not declared.
        ...(output?.type === "object" ? { outputSchema: output as Tool["inputSchema"] } : {}),
      };
    });
  }

  /** Validates the input, runs the handler under the per-tool timeout and the request's abort signal. */
  async call(name: string, input: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    const tool = this.#tools.get(name);
    const handler = tool?.definition.handler;
    if (tool === undefined || handler === undefined) return errorResult(`Unknown tool ${JSON.stringify(name)}`);
    const validate = this.#validators.get(name);
    if (validate !== undefined && !validate(input)) {
      return errorResult(`invalid_tool_input: ${describeValidationErrors(validate.errors)}`);
    }
    const combined = AbortSignal.any([signal, AbortSignal.timeout(this.toolTimeoutMs)]);
    const id = randomBytes(9).toString("base64url");
    try {
      const value: unknown = await new Promise((resolve, reject) => {
        const abort = () =>
          reject(new Error(signal.aborted ? "cancelled" : `timed out after ${this.toolTimeoutMs} ms`));
        if (combined.aborted) abort();
        combined.addEventListener("abort", abort, { once: true });
        Promise.resolve()
          .then(() =>
            handler(input, {
              callId: `call_${id}`,
              executionId: `mcp_direct_${id}`,
              containerId: "",
              caller: "direct",
              signal: combined,
              deadline: Date.now() + this.toolTimeoutMs,
            }),
          )
          .then(resolve, reject)
          .finally(() => combined.removeEventListener("abort", abort));
      });
      const text = typeof value === "string" ? value : (JSON.stringify(value ?? null) ?? "null");
      return {
        content: [{ type: "text", text }],
        ...(isPlainObject(value) ? { structuredContent: value } : {}),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return errorResult(PtcError.is(error) ? `${error.code}: ${message}` : message);
    }
  }
}
