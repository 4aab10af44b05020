import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ToolDefinition } from "../protocol/tool.js";
import type { ToolSource } from "./tool-source.js";

export interface ToolSourceFailure {
  readonly source: string;
  /** Names the source; keeps the code and details of the source's own `PtcError` (else `tool_error`). */
  readonly error: PtcError;
}

/** The tools of several sources as plain definitions, plus what failed to open. */
export interface ToolSet {
  readonly tools: readonly ToolDefinition[];
  /** Sources that could not list their tools; the others keep working. */
  readonly failures: readonly ToolSourceFailure[];
  readonly sources: readonly ToolSource[];
  close(): Promise<void>;
}

/**
 * Opens every source at once (a slow MCP server does not delay the others) and turns its tools into
 * definitions whose handler calls back into the source. A source that fails is reported, not fatal.
 */
export async function openToolSources(
  sources: readonly ToolSource[],
  options: { signal?: AbortSignal } = {},
): Promise<ToolSet> {
  const listed = await Promise.allSettled(
    sources.map((source) => source.listTools(options.signal ? { signal: options.signal } : {})),
  );
  const tools: ToolDefinition[] = [];
  const failures: ToolSourceFailure[] = [];
  listed.forEach((outcome, index) => {
    const source = sources[index] as ToolSource;
    if (outcome.status === "rejected") {
      failures.push({ source: source.name, error: sourceFailure(source.name, outcome.reason) });
      return;
    }
    for (const { external, ...definition } of outcome.value) {
      if (external) tools.push(definition);
      else tools.push({ ...definition, handler: (input, context) => source.callTool(definition.name, input, context) });
    }
  });
  let closing: Promise<void> | undefined;
  return {
    tools,
    failures,
    sources,
    close() {
      closing ??= Promise.allSettled(sources.map((source) => source.close())).then(() => undefined);
      return closing;
    },
  };
}

function sourceFailure(source: string, reason: unknown): PtcError {
  const message = `tool source ${source}: ${reason instanceof Error ? reason.message : String(reason)}`;
  if (PtcError.is(reason)) return new PtcError(reason.code, message, { ...reason.details, source });
  return new PtcError(ErrorCode.ToolError, message, { source });
}
