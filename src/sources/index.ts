export { type SourcesFromConfigOptions, toolSourcesFromConfig } from "./from-config.js";
export { HandlerToolSource } from "./handler-source.js";
export {
  HTTP_TOOL_PROTOCOL,
  HttpToolProtocolError,
  parseCallRequest,
  parseCallResponse,
  parseToolList,
  type WireCallRequest,
  type WireCallResponse,
  type WireError,
  type WireToolDefinition,
  type WireToolList,
} from "./http/http-tool-protocol.js";
export {
  DEFAULT_HTTP_CONNECT_TIMEOUT_MS,
  HttpToolSource,
} from "./http/http-tool-source.js";
export { loadToolsModule } from "./load-tools-module.js";
export { DEFAULT_MCP_CONNECT_TIMEOUT_MS } from "./mcp/mcp-connection.js";
export { parseMcpFlag, splitCommandLine } from "./mcp/mcp-flag.js";
export { MCP_NAME_SEPARATOR, mcpServerPrefix, nameMcpTools } from "./mcp/mcp-naming.js";
export { convertMcpResult, type McpContentItem } from "./mcp/mcp-results.js";
export { McpToolSource, type McpToolSourceOptions } from "./mcp/mcp-tool-source.js";
export { openToolSources, type ToolSet, type ToolSourceFailure } from "./tool-set.js";
export type { SourceToolDefinition, ToolSource } from "./tool-source.js";
