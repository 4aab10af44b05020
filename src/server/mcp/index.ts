// `ptc/mcp`: ptc as an MCP server (stdio via an SDK transport of your own, or streamable HTTP).
export { createMcpServer, createMcpServerFactory, type PtcMcpServerOptions } from "./create-mcp-server.js";
export {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MCP_HTTP_PORT,
  MCP_HTTP_PATH,
  type McpHttpOptions,
  type McpHttpServer,
  serveMcpHttp,
} from "./mcp-http-server.js";
export {
  DEFAULT_INDEX_STUB_CHAR_THRESHOLD,
  DEFAULT_INDEX_TOOL_THRESHOLD,
  type ToolIndexMode,
  type ToolIndexOptions,
} from "./tool-index.js";
