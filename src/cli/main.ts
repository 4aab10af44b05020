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

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        if (rest.includes("--help")) {
          process.stdout.write(`${RUN_USAGE}\n`);
          return 0;
        }
        return await runCommand(rest);
      case "mcp":
        if (rest.includes("--help")) {
          process.stdout.write(`${MCP_USAGE}\n`);
          return 0;
        }
        return await mcpCommand(rest);
      case "serve":
        if (rest.includes("--help")) {
          process.stdout.write(`${SERVE_USAGE}\n`);
          return 0;
        }
        return await serveCommand(rest);
      case "stubs":
        if (rest.includes("--help")) {
          process.stdout.write(`${STUBS_USAGE}\n`);
          return 0;
        }
        return await stubsCommand(rest);
      case "setup":
        return await setupCommand();
      case "doctor":
        return await doctorCommand(rest);
      case undefined:
      case "help":
      case "--help":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`ptc: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
