import type { JsonSchema } from "../protocol/json-schema.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { QueryProcesses } from "./query-processes.js";
import { databaseSource, openReadOnly } from "./read-only-query.js";
import { createSalesDatabase } from "./sales-database.js";
import type { SalesDatabase } from "./sales-database-type.js";
import { LOG_LEVELS, LOG_SERVICES, type LogEntry } from "./sample-logs.js";
import { LEDGER_PATH, README_PATH, SUMMARY_PATH } from "./sample-reports.js";
import { checkInput, optionalChoice, optionalInteger, requireString } from "./tool-input.js";

export interface SampleToolsOptions {
  /** Database built by `createSalesDatabase` (or with the same tables). Default: a fresh in-memory one. */
  database?: SalesDatabase;
}

/** The sample tools; `close()` stops the processes that run query_database's SQL. */
export type SampleTools = ToolDefinition[] & { close(): Promise<void> };

export interface FileInfo {
  path: string;
  size_bytes: number;
  lines: number;
}

export interface FileSummary {
  path: string;
  size_bytes: number;
  head: string[];
  line_count: number;
}

export interface EndpointStatus {
  url: string;
  healthy: boolean;
  latency_ms: number;
}

const CODE_ONLY = ["code_execution"] as const;
const MAX_LOGS = 10_000;
const DEFAULT_LOG_LIMIT = 100;
const DEFAULT_HEAD_LINES = 10;
const MAX_HEAD_LINES = 100;

const QUERY_DESCRIPTION = `Run one read-only SQL query (SQLite dialect) against the sales database and return the rows as a list of objects (column name -> value).
Only queries that return rows (SELECT, WITH ... SELECT) are allowed; anything that writes is refused. At most 10,000 rows and 4 MiB of JSON: aggregate in SQL (SUM, COUNT, GROUP BY) or add LIMIT.
Tables:
- regions(id INTEGER, name TEXT): 50 regions; ids 1-5 are North, South, East, West, Central.
- customers(id INTEGER, name TEXT, region_id INTEGER -> regions.id, segment TEXT: 'Consumer' | 'SMB' | 'Enterprise'): 2,000 customers.
- orders(id INTEGER, customer_id INTEGER -> customers.id, region_id INTEGER -> regions.id, order_date TEXT 'YYYY-MM-DD' (2024), amount_cents INTEGER (US cents), status TEXT: 'completed' | 'pending' | 'refunded' | 'cancelled'): 20,000 orders. Revenue is SUM(amount_cents) over completed orders.
- files(path, size_bytes, content), logs(id, timestamp, level, service, message), endpoints(position, url, healthy, latency_ms): the data behind the other sample tools.`;

const objectSchema = (properties: Record<string, JsonSchema>, required: readonly string[]): JsonSchema => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});

const PATH_SCHEMA: JsonSchema = {
  type: "string",
  description: `Absolute path of a virtual file, e.g. ${SUMMARY_PATH}`,
};
const FILE_INFO_SCHEMA = objectSchema(
  {
    path: { type: "string" },
    size_bytes: { type: "integer", description: "Size of the content in UTF-8 bytes" },
    lines: { type: "integer", description: "Number of lines" },
  },
  ["path", "size_bytes", "lines"],
);
const LOG_ENTRY_SCHEMA = objectSchema(
  {
    timestamp: { type: "string", description: "ISO 8601 UTC, e.g. 2024-11-04T09:15:02Z" },
    level: { type: "string", enum: [...LOG_LEVELS] },
    service: { type: "string", enum: [...LOG_SERVICES] },
    message: { type: "string" },
  },
  ["timestamp", "level", "service", "message"],
);

/**
 * The sample tools over the sales database: SQL queries, virtual files, logs and health checks.
 * Handlers are pure functions of the database and their input (no filesystem, no network), and all
 * read through a read-only connection. An in-memory database is snapshotted when the tools are created.
 * query_database runs model-written SQL in child processes (query-processes.ts), which its signal kills;
 * the other tools run fixed, bounded queries in this process. Close the tools with `close()` (or
 * `closeSampleTools`); left open, idle query processes do not keep the host alive.
 */
export function createSampleTools(options: SampleToolsOptions = {}): SampleTools {
  const source = databaseSource(options.database ?? createSalesDatabase());
  const reader = openReadOnly(source);
  const queries = new QueryProcesses(source);
  queries.warm();
  const knownFiles = (): string =>
    reader.prepare<[], string>("SELECT path FROM files ORDER BY path").pluck().all().join(", ");
  const fileRow = (tool: string, path: string): { content: string; size_bytes: number } => {
    const row = reader
      .prepare<[string], { content: string; size_bytes: number }>(
        "SELECT content, size_bytes FROM files WHERE path = ?",
      )
      .get(path);
    if (!row) throw new Error(`${tool}: no such file: ${path} (files: ${knownFiles()})`);
    return row;
  };

  const queryDatabase: ToolDefinition = {
    name: "query_database",
    description: QUERY_DESCRIPTION,
    inputSchema: objectSchema({ sql: { type: "string", description: "A single SQLite SELECT statement" } }, ["sql"]),
    outputSchema: { type: "array", items: { type: "object" } },
    allowedCallers: CODE_ONLY,
    handler: (input, context) =>
      queries.query(
        requireString("query_database", checkInput("query_database", input, ["sql"]), "sql"),
        context?.signal,
      ),
  };

  const getFileInfo: ToolDefinition = {
    name: "get_file_info",
    description:
      "Size and line count of a virtual file, without its content. Check this before read_file: files can be large. " +
      `Files: ${SUMMARY_PATH} (small), ${LEDGER_PATH} (large, ~200 KB), ${README_PATH}.`,
    inputSchema: objectSchema({ path: PATH_SCHEMA }, ["path"]),
    outputSchema: FILE_INFO_SCHEMA,
    allowedCallers: CODE_ONLY,
    handler: (input): FileInfo => {
      const path = requireString("get_file_info", checkInput("get_file_info", input, ["path"]), "path");
      const { content, size_bytes } = fileRow("get_file_info", path);
      return { path, size_bytes, lines: splitLines(content).length };
    },
  };

  const readFile: ToolDefinition = {
    name: "read_file",
    description: "The whole content of a virtual file, as one string. Use get_file_info first for large files.",
    inputSchema: objectSchema({ path: PATH_SCHEMA }, ["path"]),
    outputSchema: { type: "string" },
    allowedCallers: CODE_ONLY,
    handler: (input): string => {
      const path = requireString("read_file", checkInput("read_file", input, ["path"]), "path");
      return fileRow("read_file", path).content;
    },
  };

  const summarizeFile: ToolDefinition = {
    name: "summarize_file",
    description: "A cheap look at a virtual file: its size, its line count and its first max_lines lines (default 10).",
    inputSchema: objectSchema(
      {
        path: PATH_SCHEMA,
        max_lines: { type: "integer", minimum: 1, maximum: MAX_HEAD_LINES, default: DEFAULT_HEAD_LINES },
      },
      ["path"],
    ),
    outputSchema: objectSchema(
      {
        path: { type: "string" },
        size_bytes: { type: "integer" },
        head: { type: "array", items: { type: "string" }, description: "The first max_lines lines" },
        line_count: { type: "integer" },
      },
      ["path", "size_bytes", "head", "line_count"],
    ),
    allowedCallers: CODE_ONLY,
    handler: (input): FileSummary => {
      const args = checkInput("summarize_file", input, ["path", "max_lines"]);
      const path = requireString("summarize_file", args, "path");
      const maxLines = optionalInteger("summarize_file", args, "max_lines", {
        min: 1,
        max: MAX_HEAD_LINES,
        fallback: DEFAULT_HEAD_LINES,
      });
      const { content, size_bytes } = fileRow("summarize_file", path);
      const lines = splitLines(content);
      return { path, size_bytes, head: lines.slice(0, maxLines), line_count: lines.length };
    },
  };

  const fetchLogs: ToolDefinition = {
    name: "fetch_logs",
    description:
      "The most recent application log entries, oldest first: up to `limit` (default 100, at most 10,000), " +
      `optionally from one service (${LOG_SERVICES.join(", ")}). There is no level filter: filter in code.`,
    inputSchema: objectSchema(
      {
        limit: { type: "integer", minimum: 1, maximum: MAX_LOGS, default: DEFAULT_LOG_LIMIT },
        service: { type: "string", enum: [...LOG_SERVICES] },
      },
      [],
    ),
    outputSchema: { type: "array", items: LOG_ENTRY_SCHEMA },
    allowedCallers: CODE_ONLY,
    handler: (input): LogEntry[] => {
      const args = checkInput("fetch_logs", input, ["limit", "service"]);
      const limit = optionalInteger("fetch_logs", args, "limit", {
        min: 1,
        max: MAX_LOGS,
        fallback: DEFAULT_LOG_LIMIT,
      });
      const service = optionalChoice("fetch_logs", args, "service", LOG_SERVICES) ?? null;
      return reader
        .prepare<[string | null, string | null, number], LogEntry>(
          `SELECT timestamp, level, service, message FROM (
             SELECT * FROM logs WHERE ? IS NULL OR service = ? ORDER BY id DESC LIMIT ?
           ) ORDER BY id`,
        )
        .all(service, service, limit);
    },
  };

  const checkEndpoint: ToolDefinition = {
    name: "check_endpoint",
    description:
      "Health-check one service endpoint (simulated, no network): whether it is healthy and its latency. " +
      "Endpoints: https://api-1.internal/health through https://api-5.internal/health.",
    inputSchema: objectSchema(
      { url: { type: "string", description: "Endpoint URL, e.g. https://api-1.internal/health" } },
      ["url"],
    ),
    outputSchema: objectSchema(
      { url: { type: "string" }, healthy: { type: "boolean" }, latency_ms: { type: "integer" } },
      ["url", "healthy", "latency_ms"],
    ),
    allowedCallers: CODE_ONLY,
    handler: (input): EndpointStatus => {
      const url = requireString("check_endpoint", checkInput("check_endpoint", input, ["url"]), "url");
      const row = reader
        .prepare<[string], { healthy: number; latency_ms: number }>(
          "SELECT healthy, latency_ms FROM endpoints WHERE url = ?",
        )
        .get(url);
      if (!row) {
        const known = reader.prepare<[], string>("SELECT url FROM endpoints ORDER BY position").pluck().all();
        throw new Error(`check_endpoint: unknown endpoint: ${url} (known: ${known.join(", ")})`);
      }
      return { url, healthy: row.healthy === 1, latency_ms: row.latency_ms };
    },
  };

  const tools = [queryDatabase, getFileInfo, readFile, summarizeFile, fetchLogs, checkEndpoint];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= queries.close().finally(() => reader.close());
    return closing;
  };
  for (const tool of tools) closers.set(tool, close);
  return Object.assign(tools, { close });
}

const closers = new WeakMap<ToolDefinition, () => Promise<void>>();

/**
 * Closes the sample tools among `tools` (found by identity: the definitions `createSampleTools`
 * returned), for code that holds the definitions but not the list with its `close()`. Others are ignored.
 */
export async function closeSampleTools(tools: readonly ToolDefinition[]): Promise<void> {
  const found = new Set<() => Promise<void>>();
  for (const tool of tools) {
    const close = closers.get(tool);
    if (close) found.add(close);
  }
  await Promise.all([...found].map((close) => close()));
}

/** Lines as Python's str.splitlines() sees them for "\n"-separated text: a final newline ends a line. */
export function splitLines(content: string): string[] {
  if (content === "") return [];
  const lines = content.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
