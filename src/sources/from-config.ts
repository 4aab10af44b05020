import { resolve } from "node:path";
import type { LoadedConfig } from "../config/load-config.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { HandlerToolSource } from "./handler-source.js";
import { HttpToolSource } from "./http/http-tool-source.js";
import { loadToolsModule } from "./load-tools-module.js";
import { McpToolSource } from "./mcp/mcp-tool-source.js";
import type { ToolSource } from "./tool-source.js";

export interface SourcesFromConfigOptions {
  /** Overrides `config.sample`. */
  sample?: boolean;
  /** More in-process tools (e.g. from `--tools MODULE`). */
  tools?: readonly ToolDefinition[];
}

/**
 * Every tool source a config names: handlers (sample, tool modules), MCP servers, HTTP tool servers.
 * Closing the handlers' source also closes the sample tools' query processes.
 */
export async function toolSourcesFromConfig(
  loaded: LoadedConfig,
  options: SourcesFromConfigOptions = {},
): Promise<ToolSource[]> {
  const { config, directory } = loaded;
  const moduleTools: ToolDefinition[] = [];
  for (const module of config.tools ?? []) {
    moduleTools.push(...(await loadToolsModule(resolve(directory, module), { label: module })));
  }
  // Opened last, so that nothing after it can fail and leave its query processes running.
  const sample = (options.sample ?? config.sample ?? false) ? await openSampleTools() : undefined;
  const handlers = [...(sample ?? []), ...moduleTools, ...(options.tools ?? [])];
  const sources: ToolSource[] = [];
  if (handlers.length > 0) sources.push(new HandlersWithSample(handlers, sample?.close));
  for (const [name, server] of Object.entries(config.mcpServers ?? {})) {
    sources.push(new McpToolSource(name, server, { directory }));
  }
  for (const [name, server] of Object.entries(config.toolServers ?? {})) {
    sources.push(new HttpToolSource(name, server));
  }
  return sources;
}

/** The in-process handlers; closing it ends the sample's query processes, when the sample is among them. */
class HandlersWithSample extends HandlerToolSource {
  readonly #closeSample: (() => Promise<void>) | undefined;

  constructor(tools: readonly ToolDefinition[], closeSample: (() => Promise<void>) | undefined) {
    super(tools);
    this.#closeSample = closeSample;
  }

  override async close(): Promise<void> {
    await this.#closeSample?.();
  }
}

/**
 * The built-in sample, loaded only when asked for: it needs better-sqlite3, a native module that may be
 * missing or built for another Node. That failure becomes one line saying so, not a loader's stack.
 */
async function openSampleTools(): Promise<ToolDefinition[] & { close(): Promise<void> }> {
  try {
    const { createSampleTools } = await import("../sample/index.js");
    return await createSampleTools();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/better[-_]sqlite3|bindings/i.test(message)) throw error;
    // Already one line saying what the sample needs (the sample's own loader): as it is.
    if (message.startsWith("the built-in sample needs") && !message.includes("\n")) throw error;
    // better-sqlite3's `bindings` lists every path it tried: the first sentence says enough.
    const reason = message
      .split(/\s+Tried:/)[0]
      ?.replace(/\s+/g, " ")
      .trim()
      .slice(0, 300);
    throw new Error(`the built-in sample needs better-sqlite3 (npm install better-sqlite3): ${reason}`, {
      cause: error,
    });
  }
}
