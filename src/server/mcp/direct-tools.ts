import { randomBytes } from "node:crypto";
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { callToolDirectly } from "../../engine/direct-tool-call.js";
import { PtcError } from "../../protocol/errors.js";
import { isJsonObject } from "../../protocol/json-schema.js";
import type { RegisteredTool, ToolRegistry } from "../../tools/tool-registry.js";

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * Tools whose `allowedCallers` include `direct`, served as plain MCP tools that call their handler. Tools
 * without a handler are left out (nobody could answer them), as are names the server itself uses.
 */
export class DirectTools {
  readonly #tools = new Map<string, RegisteredTool>();

  constructor(
    private readonly registry: ToolRegistry,
    reserved: ReadonlySet<string>,
    private readonly toolTimeoutMs: number,
    log: (line: string) => void,
  ) {
    for (const tool of registry.directTools()) {
      if (tool.definition.handler === undefined) continue;
      if (reserved.has(tool.name)) {
        log(`ptc mcp: direct tool ${JSON.stringify(tool.name)} not exposed: the name is reserved for ptc's own tool`);
        continue;
      }
      this.#tools.set(tool.name, tool);
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
    if (!this.#tools.has(name)) return errorResult(`Unknown tool ${JSON.stringify(name)}`);
    const id = randomBytes(9).toString("base64url");
    try {
      const value = await callToolDirectly(this.registry, name, input, {
        callId: `call_${id}`,
        executionId: `mcp_direct_${id}`,
        timeoutMs: this.toolTimeoutMs,
        signal,
      });
      const text = typeof value === "string" ? value : (JSON.stringify(value ?? null) ?? "null");
      return {
        content: [{ type: "text", text }],
        ...(isJsonObject(value) ? { structuredContent: value } : {}),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return errorResult(PtcError.is(error) ? `${error.code}: ${message}` : message);
    }
  }
}
