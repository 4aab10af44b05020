import type { ToolDefinition } from "../protocol/tool.js";
import { createSampleTools } from "../sample/index.js";
import { loadToolsModule } from "../sources/load-tools-module.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import { parseArguments } from "./arguments.js";

/** Prints the Python stubs a model needs in its prompt to call the tools from code. */
export async function stubsCommand(argv: readonly string[]): Promise<number> {
  const { flags } = parseArguments(argv, ["tools", "result-mode"], ["no-sample"]);
  const tools: ToolDefinition[] = flags.has("no-sample") ? [] : createSampleTools();
  const toolsModule = flags.get("tools");
  if (typeof toolsModule === "string") tools.push(...(await loadToolsModule(toolsModule)));
  const resultMode = flags.get("result-mode") === "text" ? "text" : "json";
  process.stdout.write(ToolRegistry.from(tools).pythonStubs({ resultMode }));
  return 0;
}
