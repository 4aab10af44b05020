import { z } from "zod";

/**
 * `ptc.config.json`: one file configures `ptc run`, `ptc mcp` and `ptc serve`. Strings may refer to
 * environment variables as `${NAME}` (expanded at load time, so secrets stay out of the file).
 */
const callers = z.array(z.string()).optional();
const positive = z.number().int().positive();

export const McpStdioServerConfigSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  /** Added to a minimal environment (PATH, HOME, ...); the host's other variables are not passed on. */
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  /** Default for this server's tools: `["code_execution"]` (reachable from code only). */
  allowedCallers: callers,
  /** Time to connect and list tools. */
  connectTimeoutMs: positive.optional(),
});

export const McpHttpServerConfigSchema = z.strictObject({
  url: z.url(),
  /** Sent with every request, e.g. `{"Authorization": "Bearer ${TOKEN}"}`. */
  headers: z.record(z.string(), z.string()).optional(),
  allowedCallers: callers,
  connectTimeoutMs: positive.optional(),
});

export const McpServerConfigSchema = z.union([McpStdioServerConfigSchema, McpHttpServerConfigSchema]);

export const HttpToolServerConfigSchema = z.strictObject({
  /** Base URL: tools at `GET {url}/tools`, calls at `POST {url}/tools/{name}/call`. */
  url: z.url(),
  /** Sent as `Authorization: Bearer <token>`. */
  token: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Used for tools whose definition has no `allowed_callers`. */
  allowedCallers: callers,
  connectTimeoutMs: positive.optional(),
});

export const UpstreamConfigSchema = z.strictObject({
  /** `anthropic`: the Messages API (no vendor code execution); `openai`: any chat-completions endpoint. */
  provider: z.enum(["anthropic", "openai"]),
  /** Overrides the model the client names; without it the client's `model` is passed on. */
  model: z.string().optional(),
  baseURL: z.string().optional(),
  /**
   * Default: `ANTHROPIC_API_KEY` / `OPENAI_API_KEY`. An `openai` provider with a `baseURL` (Ollama, vLLM) may
   * have none: its requests then carry no Authorization header.
   */
  apiKey: z.string().optional(),
});

export const ServerConfigSchema = z.strictObject({
  /** Default 127.0.0.1: loopback only. */
  host: z.string().optional(),
  /** Default 8787. */
  port: z.number().int().min(0).max(65_535).optional(),
  /** Client API keys (`x-api-key` or `Authorization: Bearer`); also `PTC_API_KEYS`, comma-separated. */
  apiKeys: z.array(z.string().min(1)).optional(),
  /** Executions holding a slot (a sandbox) at once, all endpoints together. Default 16. */
  maxRunningExecutions: positive.optional(),
  /** Executions waiting for a slot; past it, 429 `overloaded` with Retry-After. Default 256. */
  maxQueuedExecutions: z.number().int().min(0).optional(),
  /**
   * Slots one API key may hold at once; past it, its executions wait. Default: half of
   * `maxRunningExecutions` with two or more keys, all of it with one.
   */
  maxRunningExecutionsPerKey: positive.optional(),
  /** Executions of one key waiting for a slot; past it, 429 `key_queue_quota_exceeded`. Default: half of the queue (all of it with one key). */
  maxQueuedExecutionsPerKey: z.number().int().min(0).optional(),
  /** Live containers (each holds a sandbox), all endpoints together. Default 32. */
  maxContainers: positive.optional(),
  /**
   * Live containers of one API key; past it, the key's own least recently used idle one is ended, or 429
   * `key_container_quota_exceeded`. Default: half of `maxContainers` (all of it with one key).
   */
  maxContainersPerKey: positive.optional(),
  upstream: UpstreamConfigSchema.optional(),
  /**
   * Where containers, executions and the journal of tool calls live: `memory`, a SQLite file path
   * (`sqlite:PATH` too) or `postgres://…` (several nodes). Default: SQLite at `$PTC_DATA_DIR/store.db`.
   */
  store: z.string().min(1).optional(),
  /** This node's name among several on one store. Default: the host name and port. */
  nodeId: z.string().min(1).max(200).optional(),
  /** The URL other nodes forward this node's requests to. Default: the URL it listens on. */
  advertiseUrl: z.url().optional(),
  /** A node silent this long loses its containers to the others. Default 15000. */
  leaseTtlMs: positive.optional(),
  /**
   * The key `/v1/responses` signs programs' fingerprints with (32+ characters; also `PTC_PROGRAM_SECRET`). Every
   * node of a cluster needs the same one. Default: a random secret kept in the data directory (one node).
   */
  programSecret: z.string().min(32).optional(),
  /** An idle container leaves memory after this long (rebuilt by replay on its next use); 0: never. Default 30000. */
  evictIdleMs: z.number().int().min(0).optional(),
  /**
   * While executions wait for a sandbox, an idle container unused this long leaves memory at once (rebuilt by
   * replay on its next use), its sandbox recycled for them; 0: never. Default 1000.
   */
  shortageEvictIdleMs: z.number().int().min(0).optional(),
  /**
   * `/v1/responses` `store: true` responses one API key keeps; past it, saving another forgets its oldest.
   * Default 10000 with a durable store, 1000 in memory.
   */
  maxStoredResponsesPerKey: positive.optional(),
  /** Bytes of one key's stored responses; past it, its oldest are forgotten. Default 256 MiB durable, 64 MiB in memory. */
  maxStoredResponseBytesPerKey: positive.optional(),
  /** A stored response is forgotten this long after it was created. Default 2592000000 (30 days, as OpenAI). */
  storedResponseRetentionMs: positive.optional(),
});

export const PtcConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  mcpServers: z.record(z.string(), McpServerConfigSchema).optional(),
  toolServers: z.record(z.string(), HttpToolServerConfigSchema).optional(),
  /** TS/JS modules exporting `tools` (relative to the config file). */
  tools: z.array(z.string()).optional(),
  /**
   * The CLI (`ptc run`, `serve`, `mcp`, `stubs`) includes the built-in sample tools (SQLite sales data, files,
   * logs). Default: only while no tools are named.
   */
  sample: z.boolean().optional(),
  limits: z
    .strictObject({
      wallTimeoutMs: positive.optional(),
      activeTimeoutMs: positive.optional(),
      toolTimeoutMs: positive.optional(),
      pendingToolTimeoutMs: positive.optional(),
      maxToolCalls: positive.optional(),
      maxConcurrentToolCalls: positive.optional(),
      maxOutputBytes: positive.optional(),
      memoryBytes: positive.optional(),
      maxToolInputBytes: positive.optional(),
      maxTotalToolInputBytes: positive.optional(),
      maxToolResultBytes: positive.optional(),
      maxTotalToolResultBytes: positive.optional(),
    })
    .optional(),
  /** Idle time after which a container and its Python state are dropped. Default 5 minutes. */
  containerIdleTimeoutMs: positive.optional(),
  /** The sandbox pool of `ptc serve` and `ptc mcp` (src/sandbox/sandbox-pool.ts, each default a `DEFAULT_*` there). */
  pool: z
    .strictObject({
      /** Warm sandboxes kept ready when idle. Default 2 (`ptc mcp`: 1). */
      size: z.number().int().min(0).optional(),
      /** Sandboxes starting at once when the pool grows. Default 2. */
      maxConcurrentStarts: positive.optional(),
      /** Cores the sandboxes' starts and resets share (a CPU quota may give fewer than Node sees). Default `os.availableParallelism()`. */
      cores: positive.optional(),
      /** Warm sandboxes beyond `size` are killed after this long unused. Default 15000. */
      idleMs: z.number().int().min(0).optional(),
      /** One-off executions a sandbox process serves, reset in between, before it is replaced; 0: never reused. Default 100. */
      maxResets: z.number().int().min(0).optional(),
    })
    .optional(),
  server: ServerConfigSchema.optional(),
});

export type McpStdioServerConfig = z.infer<typeof McpStdioServerConfigSchema>;
export type McpHttpServerConfig = z.infer<typeof McpHttpServerConfigSchema>;
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;
export type HttpToolServerConfig = z.infer<typeof HttpToolServerConfigSchema>;
export type UpstreamConfig = z.infer<typeof UpstreamConfigSchema>;
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type PoolConfig = NonNullable<z.infer<typeof PtcConfigSchema>["pool"]>;
export type PtcConfig = z.infer<typeof PtcConfigSchema>;
