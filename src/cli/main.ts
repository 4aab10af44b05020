import { doctorCommand } from "./doctor-command.js";
import { MCP_USAGE, mcpCommand } from "./mcp-command.js";
import { RUN_USAGE, runCommand } from "./run-command.js";
import { SERVE_USAGE, serveCommand } from "./serve-command.js";
import { setupCommand } from "./setup-command.js";
import { STUBS_USAGE, stubsCommand } from "./stubs-command.js";

const USAGE = `ptc — programmatic tool calling: run model-written Python that calls your tools, isolated.

Commands:
  ptc run FILE.py [options]   run a script (see \`ptc run --help\`)
  ptc mcp [options]           serve the configured tools to MCP clients as execute_code (see \`ptc mcp --help\`)
  ptc serve [options]         HTTP server: executions API and Anthropic-compatible /v1/messages
  ptc doctor [--json]         report runtime, isolation level and pool state
  ptc stubs [options]         print the Python stubs of the code-callable tools (for the prompt)
  ptc setup                   install the sandbox's Node runtime and build the start-up snapshot
`;

interface Command {
  run(argv: readonly string[]): Promise<number>;
  /** Printed for `--help`; commands without one take no options worth a page. */
  usage?: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  run: { run: runCommand, usage: RUN_USAGE },
  mcp: { run: mcpCommand, usage: MCP_USAGE },
  serve: { run: serveCommand, usage: SERVE_USAGE },
  stubs: { run: stubsCommand, usage: STUBS_USAGE },
  setup: { run: () => setupCommand() },
  doctor: { run: doctorCommand },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`unknown command: ${name}\n\n${USAGE}`);
    return 2;
  }
  try {
    if (command.usage !== undefined && rest.includes("--help")) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    process.stderr.write(`ptc: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
