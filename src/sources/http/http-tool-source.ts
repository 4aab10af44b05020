// PLACEHOLDER: replaced by the HTTP tool source implementation.
import type { HttpToolServerConfig } from "../../config/ptc-config.js";
import type { ToolCallContext } from "../../protocol/tool.js";
import type { SourceToolDefinition, ToolSource } from "../tool-source.js";

export class HttpToolSource implements ToolSource {
  constructor(
    readonly name: string,
    readonly config: HttpToolServerConfig,
  ) {}

  async listTools(): Promise<readonly SourceToolDefinition[]> {
    throw new Error("not implemented");
  }

  async callTool(_name: string, _input: Record<string, unknown>, _context: ToolCallContext): Promise<unknown> {
    throw new Error("not implemented");
  }

  async close(): Promise<void> {}
}
