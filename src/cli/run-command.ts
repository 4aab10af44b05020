import { readFile } from "node:fs/promises";
import { createEngine } from "../engine/engine.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { createSampleTools } from "../sample/index.js";
import { loadToolsModule } from "../sources/load-tools-module.js";
import { parseArguments } from "./arguments.js";
import { formatSummary } from "./format.js";

export const RUN_USAGE = `ptc run FILE.py [--tools MODULE] [--no-sample] [--json] [--result-mode json|text] [--timeout MS]

Runs a Python script in the sandbox. By default its tools are the built-in sample (a SQLite
sales database as query_database(sql), files, logs, endpoints); --tools MODULE adds tools from a
TS/JS module exporting \`tools\` (an array of tool definitions); --no-sample drops the sample.`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArguments(argv, ["tools", "result-mode", "timeout"], ["json", "no-sample"]);
  const file = positionals[0];
  if (!file) {
    process.stderr.write(`${RUN_USAGE}\n`);
    return 2;
  }
  const code = file === "-" ? await readStdin() : await readFile(file, "utf8");
  const tools: ToolDefinition[] = flags.has("no-sample") ? [] : createSampleTools();
  const toolsModule = flags.get("tools");
  if (typeof toolsModule === "string") tools.push(...(await loadToolsModule(toolsModule)));
  const resultMode = flags.get("result-mode") === "text" ? "text" : "json";
  const timeout = flags.get("timeout");
  const engine = createEngine({ pool: { size: 0 }, tools });
  try {
    const execution = engine.execute({
      code,
      resultMode,
      ...(typeof timeout === "string" ? { limits: { wallTimeoutMs: Number(timeout) } } : {}),
    });
    const json = flags.has("json");
    for await (const event of execution) {
      // Nobody is there to answer a call without a handler: fail it at once instead of pausing.
      if (event.type === "tool-call" && event.pending) {
        execution.submitToolResult(event.call.id, {
          error: { code: "tool_error", message: `${event.call.name} has no handler in \`ptc run\`` },
        });
      } else if (!json && event.type === "stdout") process.stdout.write(event.text);
      else if (!json && event.type === "stderr") process.stderr.write(event.text);
    }
    const result = await execution.result;
    if (json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      if (result.error?.traceback) process.stderr.write(result.error.traceback);
      process.stderr.write(`\n${formatSummary(result)}\n`);
    }
    return result.returnCode;
  } finally {
    await engine.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
