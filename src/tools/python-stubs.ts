import type { ResultMode } from "../protocol/execution.js";
import { isPythonIdentifier } from "./python-names.js";
import { docstringText, indent, pascalCase } from "./python-text.js";
import { PythonTypeMapper } from "./python-types.js";
import type { RegisteredTool } from "./tool-registry.js";

export interface PythonStubOptions {
  /** How results reach the script; changes return annotations and notes. Default `json`. */
  resultMode?: ResultMode;
}

/** Signatures longer than this get one parameter per line. */
const MAX_SIGNATURE = 100;

const CALLING_CONVENTIONS = `# Tools you can call from Python. Each one is an async function: await it (top-level await works).
#   result = await some_tool(query="...", limit=10)      # keyword arguments
#   result = await some_tool({"query": "...", "limit": 10})  # or a single dict of arguments
# Positional arguments are not accepted. Run independent calls concurrently with asyncio.gather:
#   import asyncio
#   a, b = await asyncio.gather(tool_a(x=1), tool_b(y=2))
# A failed call raises ToolError; its .code is a stable string such as "invalid_tool_input". A call that runs
# past its timeout raises ToolTimeoutError, a subclass of ToolError. Both are predefined: no import needed.
# The TypedDict classes below only document shapes; they do not exist at runtime, so build plain dicts.`;

const RESULT_MODE_NOTE: Record<ResultMode, string> = {
  json: `# Results arrive decoded (dict, list, str, int, float, bool or None). json.loads(result) also works and returns
# the value unchanged, so code written for Anthropic's hosted code execution runs as-is.`,
  text: `# Every result arrives as a str, exactly as in Anthropic's hosted code execution: JSON text for non-string
# values (decode it with json.loads(result)) and string values as the string itself.`,
};

interface Schema {
  readonly [keyword: string]: unknown;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function description(schema: unknown): string {
  return isSchema(schema) && typeof schema.description === "string" ? schema.description.trim() : "";
}

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

interface Parameter {
  readonly key: string;
  readonly type: string;
  readonly required: boolean;
  readonly doc: string;
}

function parameters(tool: RegisteredTool, mapper: PythonTypeMapper, base: string): Parameter[] {
  const schema = tool.definition.inputSchema;
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
  // A name listed as required but never described is still a parameter the model must pass.
  const keys = [...new Set([...Object.keys(properties), ...required])];
  const params = keys.map((key): Parameter => {
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
    const extra = isSchema(property) && property.default !== undefined ? `Default: ${jsonText(property.default)}.` : "";
    return {
      key,
      type: mapper.map(property ?? {}, `${base}${pascalCase(key)}`),
      required: required.has(key),
      doc: [description(property), extra].filter((part) => part !== "").join(" "),
    };
  });
  return [...params.filter((p) => p.required), ...params.filter((p) => !p.required)];
}

/** First line at `first`, continuation lines one level deeper, as Google-style docstrings indent them. */
function hanging(text: string, first: string, rest: string): string {
  const [head = "", ...tail] = text.split("\n");
  return [first + head, ...tail.map((line) => (line.trim() === "" ? "" : rest + line))].join("\n");
}

function optionalType(type: string): string {
  return type === "Any" || type.split(" | ").includes("None") ? type : `${type} | None`;
}

function signature(name: string, params: readonly string[], returns: string): string {
  const oneLine = `async def ${name}(${params.join(", ")}) -> ${returns}:`;
  if (oneLine.length <= MAX_SIGNATURE) return oneLine;
  return `async def ${name}(\n${params.map((p) => `    ${p},`).join("\n")}\n) -> ${returns}:`;
}

/** `Returns:` lines: the type, the output schema's description, and how the value arrives in this mode. */
function returnsSection(mode: ResultMode, type: string, outputDoc: string): string[] {
  let shown = type;
  let note =
    type === "str" ? "Arrives as the string itself." : "Arrives decoded; json.loads(result) returns it unchanged.";
  if (mode === "text") {
    shown = "str";
    note =
      type === "str"
        ? "Text mode: arrives as the string itself."
        : `Text mode: JSON text of ${type === "Any" ? "the result" : type}; decode it with json.loads(result).`;
  }
  return outputDoc === "" ? [`${shown}: ${note}`] : [`${shown}: ${outputDoc}`, note];
}

function stub(tool: RegisteredTool, mapper: PythonTypeMapper, mode: ResultMode): string {
  const base = pascalCase(tool.pythonName);
  const params = parameters(tool, mapper, base);
  const named = params.filter((p) => isPythonIdentifier(p.key));
  const unnamed = params.filter((p) => !isPythonIdentifier(p.key));
  const inputSchema = tool.definition.inputSchema;
  const openEnded =
    params.length === 0 && inputSchema.additionalProperties !== undefined && inputSchema.additionalProperties !== false;

  const parts = named.map((p) => (p.required ? `${p.key}: ${p.type}` : `${p.key}: ${optionalType(p.type)} = None`));
  if (parts.length > 0) parts.unshift("*");
  if (unnamed.length > 0 || openEnded) {
    let kwargs = "kwargs";
    while (params.some((p) => p.key === kwargs)) kwargs = `${kwargs}_`;
    mapper.use("Any");
    parts.push(`**${kwargs}: Any`);
  }

  const output = tool.definition.outputSchema;
  const resultType = output === undefined ? mapper.map({}, base) : mapper.map(output, `${base}Result`);
  const annotation = mode === "text" ? "str" : resultType;

  const summary = tool.definition.description?.trim() ?? "";
  const doc = [summary || `Calls the ${JSON.stringify(tool.name)} tool.`];
  // Errors and logs use the host name; say it when the Python name differs and the summary does not.
  if (summary && tool.pythonName !== tool.name) doc.push("", `Host tool name: ${JSON.stringify(tool.name)}.`);
  const argLines = named.filter((p) => p.doc !== "").map((p) => `${p.key}: ${p.doc}`);
  for (const p of unnamed) {
    const note = `(${p.type}${p.required ? ", required" : ""}) Not a valid Python parameter name: pass it in the dict form.`;
    argLines.push(`${JSON.stringify(p.key)}: ${[note, p.doc].filter((s) => s !== "").join(" ")}`);
  }
  if (argLines.length > 0) doc.push("", "Args:", ...argLines.map((line) => hanging(line, "    ", "        ")));
  const returns = returnsSection(mode, resultType, description(output));
  doc.push("", "Returns:", ...returns.map((line) => hanging(line, "    ", "    ")));

  const body = indent(docstringText(doc.join("\n")), "    ");
  const definitions = mapper.takeDefinitions();
  const fn = `${signature(tool.pythonName, parts, annotation)}\n    """${body.trimStart()}\n    """\n    ...`;
  return [...definitions, fn].join("\n\n\n");
}

/**
 * Python declarations of the tools code may call, for a model's prompt. The text compiles as Python and is
 * deterministic, so it can sit in a cached prompt prefix.
 */
export function generatePythonStubs(tools: readonly RegisteredTool[], options: PythonStubOptions = {}): string {
  const mode = options.resultMode ?? "json";
  const mapper = new PythonTypeMapper(tools.map((tool) => tool.pythonName));
  const stubs = tools.map((tool) => stub(tool, mapper, mode));
  const header = [CALLING_CONVENTIONS, RESULT_MODE_NOTE[mode]];
  if (tools.length === 0) header.push("# No tools are available to code.");
  const importLine = mapper.importLine();
  const sections = [header.join("\n")];
  if (importLine !== "") sections.push(importLine);
  return `${[...sections, ...stubs].join("\n\n\n")}\n`;
}
