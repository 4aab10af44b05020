import { createRequire } from "node:module";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { Engine } from "../../engine/engine.js";
import type { ResultMode } from "../../protocol/execution.js";
import { DEFAULT_TOOL_TIMEOUT_MS, type ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { isScriptLanguage, SCRIPT_LANGUAGES } from "../../tools/script-language.js";
import { ToolRegistry } from "../../tools/tool-registry.js";
import { DirectTools } from "./direct-tools.js";
import { EXECUTE_CODE, executeCodeTool, runExecuteCode } from "./execute-code-tool.js";
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, shouldIndex, ToolIndex, type ToolIndexOptions } from "./tool-index.js";

export const SEARCH_TOOLS = "search_tools";
export const DESCRIBE_TOOLS = "describe_tools";

// src/server/mcp and dist/server/mcp are both three levels below package.json.
const { version } = createRequire(import.meta.url)("../../../package.json") as { version: string };

export interface PtcMcpServerOptions {
  /** Runs `execute_code`; its base tools should be `tools`. One engine serves every session. */
  engine: Engine;
  tools: readonly ToolDefinition[];
  resultMode?: ResultMode;
  /** Per-execution limits; `toolTimeoutMs` also bounds direct tool calls. */
  limits?: Partial<ExecutionLimits>;
  /** When `execute_code` lists an index plus `search_tools` / `describe_tools` instead of every stub. */
  toolIndex?: ToolIndexOptions;
  name?: string;
  /** Diagnostics; stderr by default (stdout may be the protocol channel). */
  log?: (line: string) => void;
}

const INSTRUCTIONS = `Use execute_code to do multi-step work with tools in one go: write a Python (or JavaScript) script that calls the tools as async functions and prints only the result you need. Tool results stay inside the script, out of your context.`;

function textResult(text: string, isError = false): CallToolResult {
  return { content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) };
}

/**
 * Prepares the tool list once and returns a factory of SDK servers: an SDK `Server` serves one transport,
 * so streamable HTTP needs one per session while all of them share the engine and the tools.
 */
export function createMcpServerFactory(options: PtcMcpServerOptions): () => Server {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const resultMode = options.resultMode ?? "json";
  // Tools that allow direct calls are served as plain MCP tools: a direct-only tool is no mistake here.
  const registry = ToolRegistry.from(options.tools, { servesDirectCalls: true });
  const index = shouldIndex(registry, options.toolIndex, resultMode) ? new ToolIndex(registry, resultMode) : null;
  const ownTools: Tool[] = [executeCodeTool(registry, index, resultMode)];
  if (index !== null) ownTools.push(...searchTools());
  const direct = new DirectTools(
    registry,
    new Set([EXECUTE_CODE, SEARCH_TOOLS, DESCRIBE_TOOLS]),
    options.limits?.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    log,
  );
  const tools = [...ownTools, ...direct.list()];

  return () => {
    const server = new Server(
      { name: options.name ?? "ptc", version },
      { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name } = request.params;
      const input = request.params.arguments ?? {};
      if (name === EXECUTE_CODE) {
        if (typeof input.code !== "string") return textResult("execute_code needs `code`: a script", true);
        const language = input.language ?? "python";
        if (!isScriptLanguage(language)) {
          return textResult(`execute_code's \`language\` must be one of ${SCRIPT_LANGUAGES.join(", ")}`, true);
        }
        return await runExecuteCode(
          options.engine,
          input.code,
          { signal: extra.signal, progressToken: extra._meta?.progressToken, sendNotification: extra.sendNotification },
          { language, resultMode, limits: options.limits, log },
        );
      }
      if (index !== null && name === SEARCH_TOOLS) {
        const query = typeof input.query === "string" ? input.query : "";
        const limit = typeof input.limit === "number" ? input.limit : DEFAULT_SEARCH_LIMIT;
        const found = index.search(query, limit);
        if (found.length === 0) return textResult(`No tools match ${JSON.stringify(query)}.`);
        const lines = found.map(
          (tool) => `${tool.pythonName}: ${tool.definition.description?.trim().split("\n")[0] ?? ""}`,
        );
        return textResult(`${lines.join("\n")}\n\nLoad signatures with describe_tools before calling them.`);
      }
      if (index !== null && name === DESCRIBE_TOOLS) {
        const names = Array.isArray(input.names) ? input.names.filter((item) => typeof item === "string") : [];
        if (names.length === 0) return textResult("describe_tools needs `names`: a list of tool names", true);
        const language = isScriptLanguage(input.language) ? input.language : "python";
        const { stubs, unknown } = index.describe(names, language);
        const comment = language === "python" ? "#" : "//";
        const missing =
          unknown.length > 0 ? `${comment} Unknown tools (try search_tools): ${unknown.join(", ")}\n` : "";
        return textResult(`${missing}${stubs}`, stubs === "");
      }
      if (direct.has(name)) return await direct.call(name, input, extra.signal);
      return textResult(`Unknown tool ${JSON.stringify(name)}`, true);
    });
    return server;
  };
}

/** One SDK server over the tools: for a single transport (stdio, an in-memory pair). */
export function createMcpServer(options: PtcMcpServerOptions): Server {
  return createMcpServerFactory(options)();
}

function searchTools(): Tool[] {
  return [
    {
      name: SEARCH_TOOLS,
      title: "Find tools for execute_code",
      description:
        "Search the tools available inside execute_code by keywords (matched against names, descriptions and parameter names). Returns python names with one-line descriptions.",
      inputSchema: {
        type: "object",
        properties: {
          query: { type: "string", description: "Keywords, e.g. 'github issue create'" },
          limit: {
            type: "integer",
            minimum: 1,
            maximum: MAX_SEARCH_LIMIT,
            description: `Most matches to return (default ${DEFAULT_SEARCH_LIMIT})`,
          },
        },
        required: ["query"],
      },
      annotations: { readOnlyHint: true },
    },
    {
      name: DESCRIBE_TOOLS,
      title: "Load tool signatures for execute_code",
      description:
        "The full Python signatures and docstrings of the named tools (python names from the index or search_tools), to call them from execute_code; with language javascript or typescript, their TypeScript declarations.",
      inputSchema: {
        type: "object",
        properties: {
          names: { type: "array", items: { type: "string" }, description: "Tool names" },
          language: {
            type: "string",
            enum: [...SCRIPT_LANGUAGES],
            default: "python",
            description: "Signatures for which language",
          },
        },
        required: ["names"],
      },
      annotations: { readOnlyHint: true },
    },
  ];
}
