// Config loading as `ptc` exports it; the schemas stay private (they are zod's, and the types say the same).
export { CONFIG_FILE_NAME, type LoadedConfig, loadConfig, parseConfig } from "./load-config.js";
export type {
  HttpToolServerConfig,
  McpHttpServerConfig,
  McpServerConfig,
  McpStdioServerConfig,
  PoolConfig,
  PtcConfig,
  ServerConfig,
  UpstreamConfig,
} from "./ptc-config.js";
