// `ptc/sources`: tool sources (in-process handlers, MCP servers, HTTP tool servers) and the HTTP tool
// protocol (docs/http-tool-protocol.md) for writing a tool server in TypeScript.
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
export { DEFAULT_HTTP_CONNECT_TIMEOUT_MS, HttpToolSource } from "./http/http-tool-source.js";
export { DEFAULT_MCP_CONNECT_TIMEOUT_MS } from "./mcp/mcp-connection.js";
export { McpToolSource, type McpToolSourceOptions } from "./mcp/mcp-tool-source.js";
export { openToolSources, type ToolSet, type ToolSourceFailure } from "./tool-set.js";
export type { SourceToolDefinition, ToolSource } from "./tool-source.js";
