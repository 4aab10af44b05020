import type Anthropic from "@anthropic-ai/sdk";
import type { ExecutionResult, ScriptLanguage } from "../protocol/execution.js";

/** The name the upstream model sees; the same name Anthropic's hosted tool has. */
export const CODE_EXECUTION_TOOL_NAME = "code_execution";

const PYTHON_PREAMBLE = `Run Python 3 code in an isolated sandbox (Pyodide: the standard library only, no network, no files of yours).
Call the tools listed below from the code as async functions, process their results in Python, and print only what you need:
the script's stdout and stderr are all you get back, never the raw tool results. Prefer one script that does a whole task
(loops, filtering, aggregation, asyncio.gather for independent calls) over many small ones.
Top-level await works. Variables persist between runs of the same conversation.`;

function scriptPreamble(name: string): string {
  return `Run ${name} in an isolated sandbox (no Node.js APIs, no imports, no network, no files).
Call the tools declared below from the code as \`await tools.name({ ...args })\`, process their results in code, and output only
what you need with text(...) or console.log(...): the program's output is all you get back, never the raw tool results. Prefer
one program that does a whole task (loops, filtering, aggregation, Promise.all for independent calls) over many small ones.
Top-level await works. Each run starts fresh: no variables carry over between runs.`;
}

const PREAMBLES: Record<ScriptLanguage, string> = {
  python: PYTHON_PREAMBLE,
  javascript: scriptPreamble("JavaScript"),
  typescript: scriptPreamble("TypeScript (its types are stripped, not checked, before it runs)"),
};

/** How the tool and its errors name each language. */
export const LANGUAGE_NAMES: Record<ScriptLanguage, string> = {
  python: "Python",
  javascript: "JavaScript",
  typescript: "TypeScript",
};

/**
 * `code_execution` as an ordinary tool for an upstream model that has no hosted code execution: its
 * description carries the stubs of the code-callable tools in the run's language (`stubsFor`: Python stubs,
 * or TypeScript declarations for JavaScript and TypeScript).
 */
export function codeExecutionTool(stubs: string, language: ScriptLanguage = "python"): Anthropic.Tool {
  return {
    name: CODE_EXECUTION_TOOL_NAME,
    description: `${PREAMBLES[language]}\n\n${stubs.trim()}\n`,
    input_schema: {
      type: "object",
      properties: { code: { type: "string", description: `The ${LANGUAGE_NAMES[language]} code to run.` } },
      required: ["code"],
      additionalProperties: false,
    },
  };
}

/** The text the upstream model gets back for a finished script, in the shape of Anthropic's result. */
export function codeExecutionResultText(result: { stdout: string; stderr: string; return_code: number }): string {
  const parts = [`return_code: ${result.return_code}`];
  if (result.stdout !== "") parts.push(`stdout:\n${result.stdout}`);
  if (result.stderr !== "") parts.push(`stderr:\n${result.stderr}`);
  return parts.join("\n");
}

/**
 * What the model should see of an execution: its output, with the error (Python traceback, or the limit or
 * sandbox failure that stopped it) appended to stderr, since the engine reports errors apart from the streams.
 */
export function codeExecutionOutput(result: ExecutionResult): { stdout: string; stderr: string; return_code: number } {
  let stderr = result.stderr;
  if (result.error !== null) {
    const detail = result.error.traceback ?? `${result.error.type}: ${result.error.message}\n`;
    stderr += `${stderr === "" || stderr.endsWith("\n") ? "" : "\n"}${detail}`;
  }
  return { stdout: result.stdout, stderr, return_code: result.returnCode };
}
