import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ToolCallContext, ToolDefinition } from "../protocol/tool.js";
import type { SourceToolDefinition, ToolSource } from "./tool-source.js";

/** In-process handlers as a tool source. Tools without a handler are external: their calls pause. */
export class HandlerToolSource implements ToolSource {
  readonly #byName: ReadonlyMap<string, ToolDefinition>;

  constructor(
    readonly tools: readonly ToolDefinition[],
    readonly name = "handlers",
  ) {
    this.#byName = new Map(tools.map((tool) => [tool.name, tool]));
  }

  async listTools(): Promise<readonly SourceToolDefinition[]> {
    return this.tools.map(({ handler, ...definition }) =>
      handler === undefined ? { ...definition, external: true } : definition,
    );
  }

  async callTool(name: string, input: Record<string, unknown>, context: ToolCallContext): Promise<unknown> {
    const tool = this.#byName.get(name);
    if (tool?.handler === undefined) {
      throw new PtcError(ErrorCode.ToolNotFound, `Tool ${JSON.stringify(name)} has no handler in ${this.name}`);
    }
    return await tool.handler(input, context);
  }

  async close(): Promise<void> {}
}
