export { type SourcesFromConfigOptions, toolSourcesFromConfig } from "./from-config.js";
export { HandlerToolSource } from "./handler-source.js";
export { HttpToolSource } from "./http/http-tool-source.js";
export { loadToolsModule } from "./load-tools-module.js";
export { McpToolSource, type McpToolSourceOptions } from "./mcp/mcp-tool-source.js";
export { openToolSources, type ToolSet, type ToolSourceFailure } from "./tool-set.js";
export type { SourceToolDefinition, ToolSource } from "./tool-source.js";
