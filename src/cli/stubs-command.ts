import { ToolRegistry } from "../tools/tool-registry.js";
import { parseArguments } from "./arguments.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const STUBS_USAGE = `ptc stubs [--config FILE] [--mcp "COMMAND ..."]... [--tools MODULE]... [--sample | --no-sample]
          [--result-mode json|text]

Prints the Python stubs of the code-callable tools: what a model needs in its prompt to call them from code.

${TOOL_FLAGS_USAGE}`;

/** Prints the Python stubs a model needs in its prompt to call the tools from code. */
export async function stubsCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(argv, [...TOOL_FLAGS.valued, "result-mode"], [...TOOL_FLAGS.booleans], {
    repeatable: TOOL_FLAGS.repeatable,
  });
  const opened = await openTools(toolOptionsFromArguments(parsed));
  try {
    const resultMode = parsed.flags.get("result-mode") === "text" ? "text" : "json";
    process.stdout.write(ToolRegistry.from(opened.tools).pythonStubs({ resultMode }));
    return 0;
  } finally {
    await opened.close();
  }
}
