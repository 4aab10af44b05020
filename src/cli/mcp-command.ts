import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createEngine } from "../engine/engine.js";
import { checkSandboxIsolation, resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";
import { createMcpServerFactory } from "../server/mcp/create-mcp-server.js";
import { DEFAULT_MCP_HTTP_PORT, serveMcpHttp } from "../server/mcp/mcp-http-server.js";
import { claimStdoutForProtocol } from "../server/mcp/protocol-stdout.js";
import {
  DEFAULT_INDEX_STUB_CHAR_THRESHOLD,
  DEFAULT_INDEX_TOOL_THRESHOLD,
  type ToolIndexMode,
} from "../server/mcp/tool-index.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import {
  ALLOW_DEGRADED_ISOLATION,
  ALLOW_DEGRADED_ISOLATION_USAGE,
  parseArguments,
  resultModeFlag,
} from "./arguments.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const MCP_USAGE = `ptc mcp [--config FILE] [--mcp "COMMAND ..."]... [--tools MODULE]... [--sample | --no-sample]
        [--http [PORT]] [--tool-index auto|always|never] [--result-mode json|text] [--allow-degraded-isolation]

Serves the configured tools to MCP clients (Claude Desktop, Cursor, ...) as one execute_code tool: the
model writes Python that calls them, and only the script's output comes back. Tools that allow direct
calls are also served as plain MCP tools. Over stdio by default; when no tools are named (no --tools,
no --mcp, none in the config) it serves the built-in sample tools, so \`ptc mcp\` alone is a demo.
Status lines, the --http URL included, go to stderr.

${TOOL_FLAGS_USAGE}
  --http [PORT]        streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio (default port ${DEFAULT_MCP_HTTP_PORT}; 0 picks one)
  --tool-index MODE    auto (default): past ${DEFAULT_INDEX_TOOL_THRESHOLD} tools or ${DEFAULT_INDEX_STUB_CHAR_THRESHOLD} characters of stubs, execute_code
                       lists names only and search_tools / describe_tools load signatures on demand
  --result-mode MODE   json (default): tool results arrive decoded; text: as str, like hosted code execution
${ALLOW_DEGRADED_ISOLATION_USAGE}`;

const log = (line: string) => process.stderr.write(`${line}\n`);

export async function mcpCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(
    argv,
    [...TOOL_FLAGS.valued, "tool-index", "result-mode"],
    [...TOOL_FLAGS.booleans, ALLOW_DEGRADED_ISOLATION],
    {
      repeatable: TOOL_FLAGS.repeatable,
      optionalValue: ["http"],
    },
  );
  if (parsed.positionals.length > 0) throw new Error(`unexpected argument ${parsed.positionals[0]}\n\n${MCP_USAGE}`);
  const http = parsed.flags.get("http");
  const port = http === undefined ? undefined : http === true ? DEFAULT_MCP_HTTP_PORT : Number(http);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new Error(`--http needs a port number, got ${String(http)}`);
  }
  const indexMode = parsed.flags.get("tool-index") ?? "auto";
  if (indexMode !== "auto" && indexMode !== "always" && indexMode !== "never") {
    throw new Error("--tool-index must be auto, always or never");
  }
  const resultMode = resultModeFlag(parsed);
  const allowDegradedIsolation = parsed.flags.has(ALLOW_DEGRADED_ISOLATION);
  // Before stdout is claimed and any tool source opens: a runtime weaker than `ptc setup`'s is refused here.
  checkSandboxIsolation(resolveSandboxRuntime(), allowDegradedIsolation);
  // In stdio mode stdout is the protocol channel: a tools module that prints must not corrupt it.
  const protocolStdout = port === undefined ? claimStdoutForProtocol() : undefined;
  let opened: Awaited<ReturnType<typeof openTools>>;
  try {
    opened = await openTools({ ...toolOptionsFromArguments(parsed), log });
  } catch (error) {
    protocolStdout?.release();
    throw error;
  }
  const { config } = opened.loaded;
  // `ptc mcp` serves tools that allow direct calls as plain MCP tools: say so before the engine's registry
  // would warn that its direct-only tools cannot be called from code.
  ToolRegistry.from(opened.tools, { servesDirectCalls: true });
  const engine = createEngine({
    tools: opened.tools,
    pool: { size: 1, ...config.pool, allowDegradedIsolation },
    ...(config.limits ? { limits: config.limits } : {}),
    ...(config.containerIdleTimeoutMs ? { containerIdleTimeoutMs: config.containerIdleTimeoutMs } : {}),
  });
  let stopServing: () => Promise<void> = async () => {};
  try {
    const createServer = createMcpServerFactory({
      engine,
      tools: opened.tools,
      resultMode,
      toolIndex: { mode: indexMode as ToolIndexMode },
      ...(config.limits ? { limits: config.limits } : {}),
      log,
    });
    const stopped = shutdownSignal(port === undefined);
    if (protocolStdout !== undefined) {
      const server = createServer();
      server.onclose = () => stopped.trigger();
      await server.connect(new StdioServerTransport(process.stdin, protocolStdout.channel));
      stopServing = () => server.close();
      log(`ptc mcp: serving ${opened.tools.length} tools over stdio`);
    } else {
      const served = await serveMcpHttp(createServer, { port, log });
      stopServing = () => served.close();
      log(`ptc mcp: listening on ${served.url} (${opened.tools.length} tools)`);
    }
    await stopped.promise;
    stopped.dispose();
    return 0;
  } finally {
    await stopServing().catch(() => {});
    await engine.close();
    await opened.close();
    protocolStdout?.release();
  }
}

/** Resolves on SIGINT, SIGTERM, and (stdio) the end of stdin: the client went away. */
function shutdownSignal(watchStdin: boolean) {
  let trigger = () => {};
  const promise = new Promise<void>((resolve) => {
    trigger = resolve;
  });
  const onSignal = () => trigger();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  if (watchStdin) {
    process.stdin.once("end", onSignal);
    process.stdin.once("close", onSignal);
  }
  return {
    promise,
    trigger: () => trigger(),
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.stdin.off("end", onSignal);
      process.stdin.off("close", onSignal);
    },
  };
}
