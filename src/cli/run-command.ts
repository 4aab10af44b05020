import { readFile } from "node:fs/promises";
import { createEngine } from "../engine/engine.js";
import { checkSandboxIsolation, resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";
import {
  ALLOW_DEGRADED_ISOLATION,
  ALLOW_DEGRADED_ISOLATION_USAGE,
  languageFlag,
  millisecondsFlag,
  parseArguments,
  resultModeFlag,
} from "./arguments.js";
import { formatSummary } from "./format.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const RUN_USAGE = `ptc run FILE.py|FILE.js|FILE.ts [--config FILE] [--mcp "COMMAND ..."]... [--tools MODULE]...
        [--sample | --no-sample] [--language python|javascript|typescript] [--json] [--result-mode json|text]
        [--timeout MS] [--allow-degraded-isolation]

Runs a Python, JavaScript or TypeScript script (- for stdin) in the sandbox. Its tools come from ptc.config.json and the flags;
when neither names any (no --tools, no --mcp) they are the built-in sample (a SQLite sales database as
query_database(sql), files, logs, endpoints).

${TOOL_FLAGS_USAGE}
  --language LANG      python, javascript or typescript (default: from the file's extension; python for -)
  --json               print the full result as JSON instead of the output and a summary
  --result-mode MODE   json (default): tool results arrive decoded; text: as str, like hosted code execution
  --timeout MS         wall-clock limit of the execution
${ALLOW_DEGRADED_ISOLATION_USAGE}`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(
    argv,
    [...TOOL_FLAGS.valued, "result-mode", "timeout", "language"],
    [...TOOL_FLAGS.booleans, "json", ALLOW_DEGRADED_ISOLATION],
    {
      repeatable: TOOL_FLAGS.repeatable,
    },
  );
  const { positionals, flags } = parsed;
  const file = positionals[0];
  if (!file) {
    process.stderr.write(`${RUN_USAGE}\n`);
    return 2;
  }
  const resultMode = resultModeFlag(parsed);
  const language = languageFlag(parsed, file);
  const timeout = millisecondsFlag(parsed, "timeout");
  const allowDegradedIsolation = flags.has(ALLOW_DEGRADED_ISOLATION);
  // Before any tool source opens: a runtime weaker than `ptc setup`'s is refused here in one line.
  checkSandboxIsolation(resolveSandboxRuntime(), allowDegradedIsolation);
  const code = file === "-" ? await readStdin() : await readFile(file, "utf8");
  const opened = await openTools(toolOptionsFromArguments(parsed));
  const { config } = opened.loaded;
  const engine = createEngine({
    pool: { size: 0, allowDegradedIsolation },
    tools: opened.tools,
    ...(config.limits ? { limits: config.limits } : {}),
  });
  try {
    const execution = engine.execute({
      code,
      language,
      resultMode,
      ...(timeout !== undefined ? { limits: { wallTimeoutMs: timeout } } : {}),
      runnerWithoutCaller: "`ptc run`",
    });
    const json = flags.has("json");
    for await (const event of execution) {
      if (!json && event.type === "stdout") process.stdout.write(event.text);
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
    await opened.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
