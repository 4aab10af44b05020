import { resolve } from "node:path";
import type { LoadedConfig } from "../config/load-config.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { HandlerToolSource } from "./handler-source.js";
import { HttpToolSource } from "./http/http-tool-source.js";
import { loadToolsModule } from "./load-tools-module.js";
import { McpToolSource } from "./mcp/mcp-tool-source.js";
import type { ToolSource } from "./tool-source.js";

export interface SourcesFromConfigOptions {
  /** More in-process tools (e.g. from `--tools MODULE`), after the config's tool modules. */
  tools?: readonly ToolDefinition[];
}

/**
 * Every tool source a config names: handlers (tool modules), MCP servers, HTTP tool servers. The
 * config's `sample` is the CLI's to act on (the sample is a demo, not a tool source of the library's).
 */
export async function toolSourcesFromConfig(
  loaded: LoadedConfig,
  options: SourcesFromConfigOptions = {},
): Promise<ToolSource[]> {
  const { config, directory } = loaded;
  const handlers: ToolDefinition[] = [];
  for (const module of config.tools ?? []) {
    handlers.push(...(await loadToolsModule(resolve(directory, module), { label: module })));
  }
  handlers.push(...(options.tools ?? []));
  const sources: ToolSource[] = [];
  if (handlers.length > 0) sources.push(new HandlerToolSource(handlers));
  for (const [name, server] of Object.entries(config.mcpServers ?? {})) {
    sources.push(new McpToolSource(name, server, { directory }));
  }
  for (const [name, server] of Object.entries(config.toolServers ?? {})) {
    sources.push(new HttpToolSource(name, server));
  }
  return sources;
}
