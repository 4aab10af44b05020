import type { CallToolResult, ServerNotification, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionResult, ResultMode, ScriptLanguage } from "../../protocol/execution.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import { DEFAULT_SCRIPT_LANGUAGE, SCRIPT_LANGUAGES } from "../../tools/script-language.js";
import type { ToolRegistry } from "../../tools/tool-registry.js";
import { codeToolSignatures, type ToolIndex } from "./tool-index.js";

export const EXECUTE_CODE = "execute_code";

/** Progress notifications are coalesced to at most one per this interval (a script may make 1,000 calls). */
export const PROGRESS_INTERVAL_MS = 100;

const INTRO = `Run a script in an isolated sandbox: Python by default (Pyodide: the standard library, no packages to install), or JavaScript / TypeScript with \`language\` "javascript" / "typescript" (no Node APIs, no imports). No network, no files. The tools below are async functions inside the script: await them, loop, filter, join and aggregate in code, and output only what you need. Only the script's output comes back to you, never the raw tool results, so prefer one script that does the whole job over many small calls. Top-level await works. Each call starts a fresh interpreter: no variables carry over between calls.
- Python: call the functions below; print() the answer; asyncio.gather runs calls concurrently; a failed call raises ToolError.
- JavaScript / TypeScript: \`await tools.name({...})\` as declared below; text(...) or console.log() the answer; Promise.all runs calls concurrently; a failed call throws ToolError (its .code says why).`;

/** The `execute_code` tool: every stub in its description, or (many tools) an index and a pointer to the search tools. */
export function executeCodeTool(registry: ToolRegistry, index: ToolIndex | null, resultMode: ResultMode): Tool {
  let description: string;
  if (index === null) {
    description = `${INTRO}\n\n${codeToolSignatures(registry, resultMode)}`;
  } else {
    description = `${INTRO}\n\nThis server has ${index.size} tools, too many to declare here. Before calling one, load its signature with describe_tools (names below; with language "javascript" it gives TypeScript declarations, where tools keep their host names) or find tools with search_tools. Available (python name: summary):\n${index.listing()}`;
  }
  return {
    name: EXECUTE_CODE,
    title: "Run Python or JavaScript that calls tools",
    description,
    inputSchema: {
      type: "object",
      properties: {
        code: {
          type: "string",
          description: "The script. print() (Python) or text() (JavaScript) what the answer needs.",
        },
        language: {
          type: "string",
          enum: [...SCRIPT_LANGUAGES],
          default: DEFAULT_SCRIPT_LANGUAGE,
          description: "The script's language (TypeScript runs with its types stripped).",
        },
      },
      required: ["code"],
    },
    annotations: { openWorldHint: true },
  };
}

export interface RunCodeContext {
  signal: AbortSignal;
  progressToken: string | number | undefined;
  sendNotification: (notification: ServerNotification) => Promise<void>;
}

export interface RunCodeOptions {
  language: ScriptLanguage;
  resultMode: ResultMode;
  limits?: Partial<ExecutionLimits> | undefined;
  log: (line: string) => void;
}

/**
 * Runs one script. Tool calls are reported as progress; the request's abort (MCP `notifications/cancelled`)
 * cancels the execution, which kills its sandbox. Calls to tools without a handler fail at once: nobody on
 * this side of an MCP connection can answer them.
 */
export async function runExecuteCode(
  engine: Engine,
  code: string,
  context: RunCodeContext,
  options: RunCodeOptions,
): Promise<CallToolResult> {
  const execution = engine.execute({
    code,
    language: options.language,
    resultMode: options.resultMode,
    ...(options.limits ? { limits: options.limits } : {}),
    runnerWithoutCaller: "`ptc mcp`",
  });
  const cancel = () => execution.cancel("cancelled by the MCP client");
  if (context.signal.aborted) cancel();
  context.signal.addEventListener("abort", cancel, { once: true });
  const progress = progressReporter(context, options.log);
  try {
    for await (const event of execution) {
      if (event.type === "tool-call") progress.toolCall(event.call.name);
    }
    return formatExecutionResult(await execution.result);
  } finally {
    context.signal.removeEventListener("abort", cancel);
    progress.stop();
  }
}

/** Coalesces `notifications/progress`: progress is the number of tool calls so far, the message names the last. */
function progressReporter(context: RunCodeContext, log: (line: string) => void) {
  const token = context.progressToken;
  let calls = 0;
  let sent = 0;
  let lastName = "";
  let lastSentAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (token === undefined || calls === sent || context.signal.aborted) return;
    sent = calls;
    lastSentAt = performance.now();
    const message = `tool call ${calls}: ${lastName}`;
    context
      .sendNotification({
        method: "notifications/progress",
        params: { progressToken: token, progress: calls, message },
      })
      .catch((error: unknown) => log(`ptc mcp: progress notification failed: ${String(error)}`));
  };
  return {
    toolCall(name: string) {
      calls++;
      lastName = name;
      if (token === undefined || timer !== undefined) return;
      const wait = PROGRESS_INTERVAL_MS - (performance.now() - lastSentAt);
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    },
    stop() {
      clearTimeout(timer);
      // The last count still goes out before the result, so a client sees every call accounted for.
      flush();
    },
  };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1_048_576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1_048_576).toFixed(1)} MB`;
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The script's output and one summary line; the tool results themselves never enter the reply. */
export function formatExecutionResult(result: ExecutionResult): CallToolResult {
  const parts: string[] = [];
  if (result.stdout !== "") parts.push(result.stdout.replace(/\n$/, ""));
  if (result.stderr !== "") parts.push(`[stderr]\n${result.stderr.replace(/\n$/, "")}`);
  const error = result.error;
  if (error?.traceback) parts.push(error.traceback.replace(/\n$/, ""));
  const calls = result.toolCalls.length;
  const failed = result.toolCalls.filter((call) => !call.ok).length;
  const savings = result.contextSavings;
  const summary = [
    `[ptc] ${result.status}`,
    `return code ${result.returnCode}`,
    `${calls} tool call${calls === 1 ? "" : "s"}${failed > 0 ? ` (${failed} failed)` : ""}`,
    formatSeconds(result.timings.totalMs),
    `${savings.toolResultTokens.toLocaleString("en-US")} tokens (${formatBytes(savings.toolResultBytes)}) of tool results kept out of context`,
  ].join(" · ");
  const lines = [summary];
  if (result.limitsHit.length > 0) lines.push(`[ptc] limits hit: ${result.limitsHit.join(", ")}`);
  if (error) lines.push(`[ptc] error ${error.code}: ${error.type}: ${error.message}`);
  parts.push(lines.join("\n"));
  return { content: [{ type: "text", text: parts.join("\n\n") }], ...(error ? { isError: true } : {}) };
}
