import type { ResultMode, ScriptLanguage } from "../../protocol/execution.js";
import { generatePythonStubs } from "../../tools/python-stubs.js";
import type { RegisteredTool, ToolRegistry } from "../../tools/tool-registry.js";
import { generateTypeScriptDeclarations } from "../../tools/typescript-stubs.js";

/** Above this many code tools, `execute_code` lists an index and the model loads signatures on demand. */
export const DEFAULT_INDEX_TOOL_THRESHOLD = 20;
/** ...or when the full stubs would be longer than this (characters), whatever the tool count. */
export const DEFAULT_INDEX_STUB_CHAR_THRESHOLD = 12_000;
/** The index itself drops descriptions, then names, past this length: `search_tools` still finds them. */
const MAX_INDEX_LISTING_CHARS = 8_000;
/** Default and maximum number of `search_tools` matches. */
export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 50;

const SUMMARY_CHARS = 120;

/** `auto`: index only past the thresholds; `always` / `never` force it. */
export type ToolIndexMode = "auto" | "always" | "never";

export interface ToolIndexOptions {
  mode?: ToolIndexMode;
  toolThreshold?: number;
  stubCharThreshold?: number;
}

/** Whether `execute_code` should carry an index instead of every stub. */
export function shouldIndex(registry: ToolRegistry, options: ToolIndexOptions = {}, resultMode?: ResultMode): boolean {
  const mode = options.mode ?? "auto";
  if (mode !== "auto") return mode === "always";
  if (registry.codeTools().length > (options.toolThreshold ?? DEFAULT_INDEX_TOOL_THRESHOLD)) return true;
  // The description carries both languages' signatures: it is their total that must stay readable.
  const length = codeToolSignatures(registry, resultMode ?? "json").length;
  return length > (options.stubCharThreshold ?? DEFAULT_INDEX_STUB_CHAR_THRESHOLD);
}

/** Python stubs and TypeScript declarations of the code tools, as `execute_code`'s description carries them. */
export function codeToolSignatures(registry: ToolRegistry, resultMode: ResultMode): string {
  // One line of execute_code's description says what the declarations' prelude says, and the Python
  // docstrings hold every description: the declarations add the types alone.
  const declarations = generateTypeScriptDeclarations(registry.codeTools(), {
    resultMode,
    prelude: false,
    docs: false,
  });
  return `\`\`\`python\n${registry.pythonStubs({ resultMode })}\`\`\`\n\n\`\`\`typescript\n${declarations}\`\`\``;
}

/** First line of a description, cut to a length that keeps an index line on one line. */
export function summaryOf(tool: RegisteredTool): string {
  const first = (tool.definition.description ?? "").trim().split("\n")[0]?.trim() ?? "";
  return first.length > SUMMARY_CHARS ? `${first.slice(0, SUMMARY_CHARS - 1)}…` : first;
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

interface Entry {
  tool: RegisteredTool;
  nameWords: Set<string>;
  nameText: string;
  bodyText: string;
}

/** Search and on-demand stubs over the code tools, for servers with too many tools to list in full. */
export class ToolIndex {
  readonly #entries: Entry[];
  readonly #byName = new Map<string, RegisteredTool>();

  constructor(
    registry: ToolRegistry,
    private readonly resultMode: ResultMode = "json",
  ) {
    const tools = registry.codeTools();
    this.#entries = tools.map((tool) => {
      const properties = tool.definition.inputSchema.properties;
      const parameterNames = typeof properties === "object" && properties !== null ? Object.keys(properties) : [];
      const nameText = `${tool.name} ${tool.pythonName}`.toLowerCase();
      return {
        tool,
        nameWords: new Set(words(nameText)),
        nameText,
        bodyText: `${tool.definition.description ?? ""} ${parameterNames.join(" ")}`.toLowerCase(),
      };
    });
    // Python names first: that is what the model sees; host names also resolve.
    for (const tool of tools) this.#byName.set(tool.name, tool);
    for (const tool of tools) this.#byName.set(tool.pythonName, tool);
  }

  get size(): number {
    return this.#entries.length;
  }

  /** `- python_name: summary` lines, shortened to fit `MAX_INDEX_LISTING_CHARS`. */
  listing(): string {
    const maxChars = MAX_INDEX_LISTING_CHARS;
    const full = this.#entries.map(
      ({ tool }) => `- ${tool.pythonName}${summaryOf(tool) ? `: ${summaryOf(tool)}` : ""}`,
    );
    if (full.join("\n").length <= maxChars) return full.join("\n");
    const names = this.#entries.map(({ tool }) => tool.pythonName).join(", ");
    if (names.length <= maxChars) return names;
    return `${this.#entries.length} tools: too many to list; use search_tools.`;
  }

  /**
   * Ranks tools by how many query words they contain, a name match counting more than one in the
   * description or parameter names; an empty query lists tools in order.
   */
  search(query: string, limit = DEFAULT_SEARCH_LIMIT): RegisteredTool[] {
    const terms = [...new Set(words(query))];
    const cap = Math.max(1, Math.min(MAX_SEARCH_LIMIT, Math.floor(limit)));
    if (terms.length === 0) return this.#entries.slice(0, cap).map((entry) => entry.tool);
    const scored: { tool: RegisteredTool; score: number; index: number }[] = [];
    this.#entries.forEach((entry, index) => {
      let score = 0;
      for (const term of terms) {
        if (entry.nameWords.has(term)) score += 4;
        else if (entry.nameText.includes(term)) score += 3;
        else if (entry.bodyText.includes(term)) score += 1;
      }
      if (score > 0) scored.push({ tool: entry.tool, score, index });
    });
    scored.sort((a, b) => b.score - a.score || a.index - b.index);
    return scored.slice(0, cap).map((entry) => entry.tool);
  }

  /**
   * Full Python stubs (or, for JavaScript and TypeScript, declarations) of the named tools (Python or host
   * names), plus the names it does not know.
   */
  describe(names: readonly string[], language: ScriptLanguage = "python"): { stubs: string; unknown: string[] } {
    const found: RegisteredTool[] = [];
    const unknown: string[] = [];
    for (const name of names) {
      const tool = this.#byName.get(name);
      if (tool === undefined) unknown.push(name);
      else if (!found.includes(tool)) found.push(tool);
    }
    if (found.length === 0) return { stubs: "", unknown };
    const stubs =
      language === "python"
        ? generatePythonStubs(found, { resultMode: this.resultMode })
        : generateTypeScriptDeclarations(found, { resultMode: this.resultMode, prelude: false });
    return { stubs, unknown };
  }
}
