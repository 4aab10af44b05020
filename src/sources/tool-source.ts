import type { ToolCallContext, ToolDefinition } from "../protocol/tool.js";

/** A tool as a source lists it: a definition without a handler, since the source itself runs it. */
export interface SourceToolDefinition extends Omit<ToolDefinition, "handler"> {
  /**
   * Nobody on the host runs this tool: a call pauses the script until the caller submits its result
   * (the remote client of `ptc serve`, or a user answering `ExecutionHandle.pendingToolCalls`).
   */
  readonly external?: boolean;
}

/**
 * Where tools come from: in-process handlers, an MCP server, an HTTP tool server. The engine never
 * sees a source; `openToolSources` turns each listed tool into a plain definition whose handler
 * calls `callTool`.
 */
export interface ToolSource {
  /** The source's name (an MCP server's config key, say): used in errors, logs and namespaced tool names. */
  readonly name: string;
  /** Connects if needed, then lists the tools under the names the engine will see (already namespaced). */
  listTools(options?: { signal?: AbortSignal }): Promise<readonly SourceToolDefinition[]>;
  /**
   * Runs one call. `context.signal` aborts it (timeout, cancel, execution end) and `context.deadline`
   * is when the per-tool timeout fires. Throw to fail the call: the script sees `ToolError` with the
   * message (a `PtcError` keeps its code).
   */
  callTool(name: string, input: Record<string, unknown>, context: ToolCallContext): Promise<unknown>;
  /** Releases connections and child processes. Idempotent. */
  close(): Promise<void>;
}
