import { resolve } from "node:path";
import type { LoadedConfig } from "../config/load-config.js";
import { loadConfig } from "../config/load-config.js";
import type { McpServerConfig } from "../config/ptc-config.js";
import type { ToolDefinition } from "../protocol/tool.js";
import type { SampleTools } from "../sample/public.js";
import { toolSourcesFromConfig } from "../sources/from-config.js";
import { HandlerToolSource } from "../sources/handler-source.js";
import { loadToolsModule } from "../sources/load-tools-module.js";
import { parseMcpFlag } from "../sources/mcp/mcp-flag.js";
import { openToolSources, type ToolSet } from "../sources/tool-set.js";
import { toPythonName } from "../tools/python-names.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { ParsedArguments } from "./arguments.js";

/** Flags every tool-serving command (`run`, `mcp`, `serve`) shares; pass them to `parseArguments`. */
export const TOOL_FLAGS = {
  valued: ["config"],
  booleans: ["sample", "no-sample"],
  repeatable: ["mcp", "tools"],
} as const;

export const TOOL_FLAGS_USAGE = `  --config FILE        ptc.config.json to use (default: ./ptc.config.json when it exists)
  --mcp "[NAME=]COMMAND ..."
                       also use this MCP server's tools (repeatable): a command line or an http(s) URL
  --tools MODULE       also use the tools a TS/JS module exports as \`tools\` (repeatable)
  --sample, --no-sample
                       include or leave out the built-in sample tools (SQLite sales data, files, logs);
                       default: included only when no tools are named (no --tools, no --mcp, and no
                       tools, mcpServers or toolServers in the config)`;

export interface OpenToolsOptions {
  /** `--config`: a path, or undefined for `ptc.config.json` in `cwd` when it exists. */
  configPath?: string | undefined;
  /** `--mcp` values, parsed by `parseMcpFlag`. */
  mcp?: readonly string[];
  /** `--tools` modules, relative to `cwd`. */
  toolsModules?: readonly string[];
  /**
   * `--sample` / `--no-sample`; undefined: `config.sample`, else on only when no tool source is named (no
   * `--tools`, no `--mcp`, no `tools` / `mcpServers` / `toolServers` in the config).
   */
  sample?: boolean | undefined;
  cwd?: string;
  /** Where problems go (a source that failed to open, a dropped tool); never stdout, which may carry protocol. */
  log?: (line: string) => void;
}

export interface OpenedTools {
  loaded: LoadedConfig;
  toolSet: ToolSet;
  /** The tools to hand the engine: failed sources and invalid or clashing tools left out. */
  tools: readonly ToolDefinition[];
  close(): Promise<void>;
}

/** Reads the shared flags out of parsed arguments. */
export function toolOptionsFromArguments(parsed: ParsedArguments): OpenToolsOptions {
  const config = parsed.flags.get("config");
  let sample: boolean | undefined;
  if (parsed.flags.has("sample")) sample = true;
  if (parsed.flags.has("no-sample")) sample = false;
  return {
    configPath: typeof config === "string" ? config : undefined,
    mcp: parsed.lists.get("mcp") ?? [],
    toolsModules: parsed.lists.get("tools") ?? [],
    sample,
  };
}

/**
 * Config file + flags → opened tool sources. A source that fails is logged by name and left out, so one
 * broken MCP server does not take the others down; so is a tool that would make the registry invalid.
 */
export async function openTools(options: OpenToolsOptions = {}): Promise<OpenedTools> {
  const cwd = options.cwd ?? process.cwd();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loaded = await loadConfig(options.configPath, cwd);
  const flagServers = (options.mcp ?? []).map((value) => parseMcpFlag(value));
  const mcpServers: Record<string, McpServerConfig> = { ...loaded.config.mcpServers };
  for (const [name, server] of flagServers) {
    let unique = name;
    for (let n = 2; Object.hasOwn(mcpServers, unique); n++) unique = `${name}_${n}`;
    mcpServers[unique] = server;
  }
  const toolsModules = options.toolsModules ?? [];
  const { tools: configTools, mcpServers: configServers, toolServers } = loaded.config;
  const namesTools = [configTools, configServers, toolServers].some((section) => section !== undefined);
  // The sample is the demo for when nothing else is named; any tool source of the user's leaves it out.
  const sample =
    options.sample ?? loaded.config.sample ?? (!namesTools && flagServers.length === 0 && toolsModules.length === 0);
  const moduleTools: ToolDefinition[] = [];
  for (const module of toolsModules) {
    moduleTools.push(...(await loadToolsModule(resolve(cwd, module), { label: module })));
  }
  const sources = await toolSourcesFromConfig(
    { ...loaded, config: { ...loaded.config, mcpServers } },
    { tools: moduleTools },
  );
  // Opened last, so that nothing after it can fail and leave its query processes running; listed first,
  // so that its tools come first (the first of clashing names wins).
  if (sample) sources.unshift(new SampleToolSource(await openSampleTools()));
  const toolSet = await openToolSources(sources);
  for (const failure of toolSet.failures) log(`ptc: ${failure.error.message} (its tools are left out)`);
  const tools = acceptableTools(toolSet.tools, log);
  // Closing the sample's source ends its query processes.
  return { loaded, toolSet, tools, close: () => toolSet.close() };
}

/** Keeps the tools a registry accepts together: the first of clashing names wins, invalid definitions go. */
function acceptableTools(tools: readonly ToolDefinition[], log: (line: string) => void): ToolDefinition[] {
  const accepted: ToolDefinition[] = [];
  const names = new Set<string>();
  const pythonNames = new Map<string, string>();
  for (const tool of tools) {
    try {
      ToolRegistry.from([tool]);
    } catch (error) {
      log(`ptc: tool ${JSON.stringify(tool.name)} left out: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const pythonName = toPythonName(tool.name);
    const clash = names.has(tool.name) ? tool.name : pythonNames.get(pythonName);
    if (clash !== undefined) {
      log(`ptc: tool ${JSON.stringify(tool.name)} left out: its name clashes with ${JSON.stringify(clash)}`);
      continue;
    }
    names.add(tool.name);
    pythonNames.set(pythonName, tool.name);
    accepted.push(tool);
  }
  return accepted;
}

/** The sample's handlers as a tool source; closing it ends the sample's query processes. */
class SampleToolSource extends HandlerToolSource {
  readonly #sample: SampleTools;

  constructor(sample: SampleTools) {
    super(sample, "sample");
    this.#sample = sample;
  }

  override async close(): Promise<void> {
    await this.#sample.close();
  }
}

/**
 * The built-in sample, loaded only when asked for: it needs better-sqlite3, a native module that may be
 * missing or built for another Node. That failure becomes one line saying so, not a loader's stack.
 */
async function openSampleTools(): Promise<SampleTools> {
  try {
    const { createSampleTools } = await import("../sample/public.js");
    return await createSampleTools();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/better[-_]sqlite3|bindings/i.test(message)) throw error;
    // Already one line saying what the sample needs (the sample's own loader): as it is.
    if (message.startsWith("the built-in sample needs") && !message.includes("\n")) throw error;
    // better-sqlite3's `bindings` lists every path it tried: the first sentence says enough.
    const reason = message
      .split(/\s+Tried:/)[0]
      ?.replace(/\s+/g, " ")
      .trim()
      .slice(0, 300);
    throw new Error(`the built-in sample needs better-sqlite3 (npm install better-sqlite3): ${reason}`, {
      cause: error,
    });
  }
}
