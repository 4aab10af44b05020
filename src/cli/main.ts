// Each command's module is imported when it runs: importing them all cost every `ptc` process ~0.8 s of CPU
// (the server's, the SDKs', the stores' modules) before it did anything, `ptc --help` included.

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

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => {
    const { RUN_USAGE, runCommand } = await import("./run-command.js");
    return { run: runCommand, usage: RUN_USAGE };
  },
  mcp: async () => {
    const { MCP_USAGE, mcpCommand } = await import("./mcp-command.js");
    return { run: mcpCommand, usage: MCP_USAGE };
  },
  serve: async () => {
    const { SERVE_USAGE, serveCommand } = await import("./serve-command.js");
    return { run: serveCommand, usage: SERVE_USAGE };
  },
  stubs: async () => {
    const { STUBS_USAGE, stubsCommand } = await import("./stubs-command.js");
    return { run: stubsCommand, usage: STUBS_USAGE };
  },
  setup: async () => {
    const { setupCommand } = await import("./setup-command.js");
    return { run: () => setupCommand() };
  },
  doctor: async () => {
    const { doctorCommand } = await import("./doctor-command.js");
    return { run: doctorCommand };
  },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`unknown command: ${name}\n\n${USAGE}`);
    return 2;
  }
  try {
    const command = await load();
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
