import { stubsFor } from "../tools/script-language.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import { languageFlag, parseArguments, resultModeFlag } from "./arguments.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const STUBS_USAGE = `ptc stubs [--config FILE] [--mcp "COMMAND ..."]... [--tools MODULE]... [--sample | --no-sample]
          [--result-mode json|text] [--language python|javascript|typescript]

Prints the Python stubs of the code-callable tools: what a model needs in its prompt to call them from code.
With --language javascript or typescript, their TypeScript declarations (\`declare const tools: {...}\`).

${TOOL_FLAGS_USAGE}`;

/** Prints the Python stubs (or TypeScript declarations) a model needs in its prompt to call the tools from code. */
export async function stubsCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(argv, [...TOOL_FLAGS.valued, "result-mode", "language"], [...TOOL_FLAGS.booleans], {
    repeatable: TOOL_FLAGS.repeatable,
  });
  const resultMode = resultModeFlag(parsed);
  const language = languageFlag(parsed);
  const opened = await openTools(toolOptionsFromArguments(parsed));
  try {
    process.stdout.write(stubsFor(ToolRegistry.from(opened.tools), language, resultMode));
    return 0;
  } finally {
    await opened.close();
  }
}
