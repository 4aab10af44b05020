export {
  createMcpServer,
  createMcpServerFactory,
  DESCRIBE_TOOLS,
  type PtcMcpServerOptions,
  SEARCH_TOOLS,
} from "./create-mcp-server.js";
export { EXECUTE_CODE, formatExecutionResult } from "./execute-code-tool.js";
export {
  DEFAULT_MAX_MCP_SESSIONS,
  DEFAULT_MCP_HTTP_PORT,
  MCP_HTTP_PATH,
  type McpHttpOptions,
  type McpHttpServer,
  serveMcpHttp,
} from "./mcp-http-server.js";
export {
  DEFAULT_INDEX_STUB_CHARS,
  DEFAULT_INDEX_TOOL_THRESHOLD,
  shouldIndex,
  ToolIndex,
  type ToolIndexMode,
  type ToolIndexOptions,
} from "./tool-index.js";
