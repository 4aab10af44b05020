// PLACEHOLDER: replaced by the MCP tool source implementation.
import type { McpServerConfig } from "../../config/ptc-config.js";
import type { ToolCallContext } from "../../protocol/tool.js";
import type { SourceToolDefinition, ToolSource } from "../tool-source.js";

export interface McpToolSourceOptions {
  /** Directory a stdio server's relative `cwd` resolves against. */
  directory?: string;
}

export class McpToolSource implements ToolSource {
  constructor(
    readonly name: string,
    readonly config: McpServerConfig,
    readonly options: McpToolSourceOptions = {},
  ) {}

  async listTools(): Promise<readonly SourceToolDefinition[]> {
    throw new Error("not implemented");
  }

  async callTool(_name: string, _input: Record<string, unknown>, _context: ToolCallContext): Promise<unknown> {
    throw new Error("not implemented");
  }

  async close(): Promise<void> {}
}
