import type Anthropic from "@anthropic-ai/sdk";
import { PtcError } from "../../protocol/errors.js";
import type { JsonSchema } from "../../protocol/json-schema.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { normalizeCallers } from "../../tools/allowed-callers.js";
import { ToolRegistry } from "../../tools/tool-registry.js";
import { generateTypeScriptDeclarations } from "../../tools/typescript-stubs.js";
import { openaiInvalid } from "./openai-errors.js";
import { PROGRAMMATIC_TOOL_TYPE, type ResponsesRequest } from "./request-validation.js";

/** The name the upstream model calls programs by: OpenAI's tool type, so a model trained on it knows the word. */
export const PROGRAM_TOOL_NAME = PROGRAMMATIC_TOOL_TYPE;

/** How to write a program, for a model that was never trained on OpenAI's runtime (the same rules it has). */
const PREAMBLE = `Run a JavaScript program in a fresh, isolated runtime (no Node.js APIs, no network, no files, no state kept between programs).
Call the tools declared below from the program: \`const x = await tools.name({...})\` (top-level await works; use Promise.all for independent calls).
A tool with a declared result type returns the parsed object; the others return a string. A failed call throws a ToolError you can catch.
Return what you need with \`text(string)\` (e.g. \`text(JSON.stringify(summary))\`): the text passed to text() is all you get back, never the raw tool results.
Prefer one program that does a whole task (loops, filtering, aggregation) over many small ones.`;

/** What `/v1/responses` runs and shows for one request: the engine's tools and the upstream's. */
export interface ProgramTools {
  /** The client's programmatic tools, without handlers: each call pauses the program for the client. */
  engineTools: ToolDefinition[];
  /** Names of the client's programmatic tools with an `output_schema`: their string outputs are JSON. */
  jsonOutputs: ReadonlySet<string>;
  /** What the upstream model sees: the client's direct tools and, with programmatic tool calling, the program tool. */
  upstreamTools: Anthropic.Tool[] | undefined;
}

/**
 * The request's tools in the three views the endpoint needs. Server tools (config sources) are the engine's
 * own and reachable from programs whatever the client lists; a client tool of the same name defers to them.
 */
export function programTools(request: ResponsesRequest, serverTools: readonly ToolDefinition[]): ProgramTools {
  const upstreamTools: Anthropic.Tool[] = [];
  for (const tool of request.tools) {
    if (!tool.direct) continue;
    const plain: Anthropic.Tool = { name: tool.name, input_schema: tool.parameters as Anthropic.Tool.InputSchema };
    if (tool.description !== undefined) plain.description = tool.description;
    upstreamTools.push(plain);
  }
  if (!request.programmatic) {
    return {
      engineTools: [],
      jsonOutputs: new Set(),
      upstreamTools: upstreamTools.length > 0 ? upstreamTools : undefined,
    };
  }
  const serverNames = new Set(serverTools.map((tool) => tool.name));
  const engineTools: ToolDefinition[] = [];
  const jsonOutputs = new Set<string>();
  for (const tool of request.tools) {
    if (!tool.programmatic || serverNames.has(tool.name)) continue;
    const definition: ToolDefinition = {
      name: tool.name,
      inputSchema: tool.parameters,
      allowedCallers: ["code_execution"],
    };
    if (tool.description !== undefined) definition.description = tool.description;
    if (tool.outputSchema !== undefined) {
      definition.outputSchema = tool.outputSchema;
      jsonOutputs.add(tool.name);
    }
    engineTools.push(definition);
  }
  const callable = serverTools.filter((tool) => normalizeCallers(tool.allowedCallers).has("code_execution"));
  let declarations: string;
  try {
    // The registry checks the schemas (a broken $ref is the client's request); its code tools are declared.
    const registry = ToolRegistry.from([...callable, ...engineTools]);
    declarations = generateTypeScriptDeclarations(registry.codeTools(), { untypedResult: "string" });
  } catch (error) {
    if (PtcError.is(error)) throw openaiInvalid(`Invalid 'tools': ${error.message}`, "tools", "invalid_value");
    throw error;
  }
  upstreamTools.push(programTool(declarations));
  return { engineTools, jsonOutputs, upstreamTools };
}

/** The program tool as an ordinary tool: its description carries the TypeScript declarations of the callable tools. */
export function programTool(declarations: string): Anthropic.Tool {
  const schema: JsonSchema = {
    type: "object",
    properties: { code: { type: "string", description: "The JavaScript program to run." } },
    required: ["code"],
    additionalProperties: false,
  };
  return {
    name: PROGRAM_TOOL_NAME,
    description: `${PREAMBLE}\n\n\`\`\`ts\n${declarations.trim()}\n\`\`\`\n`,
    input_schema: schema as Anthropic.Tool.InputSchema,
  };
}
