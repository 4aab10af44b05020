import { randomBytes } from "node:crypto";
import { loadConfig } from "../config/load-config.js";
import { createEngine } from "../engine/engine.js";
import { checkSandboxIsolation, resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";
import { createAdmissionController, resolveServerCapacity } from "../server/admission.js";
import { createMessagesHandler, type MessagesHandler } from "../server/anthropic/messages-handler.js";
import { createServerApp } from "../server/http/create-server-app.js";
import { createJsonLogger } from "../server/http/logger.js";
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SHUTDOWN_GRACE_MS, startServer } from "../server/http/start-server.js";
import { ResourceOwners } from "../server/resource-owners.js";
import { upstreamFromConfig } from "../upstream/upstream-from-config.js";
import { ALLOW_DEGRADED_ISOLATION, ALLOW_DEGRADED_ISOLATION_USAGE, parseArguments } from "./arguments.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const SERVE_USAGE = `ptc serve [--config FILE] [--host HOST] [--port PORT] [--sample] [--mcp "COMMAND ..."] [--tools MODULE]
        [--allow-degraded-isolation]

HTTP server: the native executions API (/v1/executions, /v1/containers) and, with server.upstream
configured, Anthropic-compatible POST /v1/messages. Prints "ptc serve: listening on URL" on stderr once
bound; logs are JSON lines on stderr too. Docs: docs/server.md.

  --host HOST          interface to bind (default: server.host, else ${DEFAULT_HOST}: loopback only)
  --port PORT          port (default: server.port, else ${DEFAULT_PORT}; 0 picks a free one)
${TOOL_FLAGS_USAGE.replace(/default: included only when[\s\S]*$/, "default: config.sample, else left out")}
${ALLOW_DEGRADED_ISOLATION_USAGE}

API keys: server.apiKeys in ptc.config.json plus PTC_API_KEYS (comma-separated). With neither,
ptc serve generates a random key for this run and prints it once on stderr: the server never runs
without authentication. SIGINT/SIGTERM: stop accepting, give running executions ${DEFAULT_SHUTDOWN_GRACE_MS / 1000} s, cancel the rest, exit 0.`;

/** Keys from the config and `PTC_API_KEYS`, deduplicated; empty entries ignored. */
export function configuredApiKeys(fromConfig: readonly string[] | undefined, environment = process.env): string[] {
  const fromEnvironment = (environment.PTC_API_KEYS ?? "").split(",");
  return [...new Set([...(fromConfig ?? []), ...fromEnvironment].map((key) => key.trim()).filter(Boolean))];
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be 0 to 65535, got ${value}`);
  return port;
}

export async function serveCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(
    argv,
    [...TOOL_FLAGS.valued, "host", "port"],
    [...TOOL_FLAGS.booleans, ALLOW_DEGRADED_ISOLATION],
    { repeatable: [...TOOL_FLAGS.repeatable] },
  );
  if (parsed.positionals.length > 0) {
    process.stderr.write(`${SERVE_USAGE}\n`);
    return 2;
  }
  const allowDegradedIsolation = parsed.flags.has(ALLOW_DEGRADED_ISOLATION);
  // Before anything opens or binds: a runtime weaker than `ptc setup`'s is refused here in one line.
  checkSandboxIsolation(resolveSandboxRuntime(), allowDegradedIsolation);
  const toolOptions = toolOptionsFromArguments(parsed);
  // A server exposes only what it is configured with: the sample tools are opt-in here.
  const { config } = await loadConfig(toolOptions.configPath);
  const sample = toolOptions.sample ?? config.sample ?? false;
  const serverConfig = config.server ?? {};
  const hostFlag = parsed.flags.get("host");
  const portFlag = parsed.flags.get("port");
  const host = typeof hostFlag === "string" ? hostFlag : (serverConfig.host ?? DEFAULT_HOST);
  const port = typeof portFlag === "string" ? parsePort(portFlag) : (serverConfig.port ?? DEFAULT_PORT);
  // Fail before opening anything when the upstream is misconfigured (e.g. no key).
  const upstream = serverConfig.upstream ? upstreamFromConfig(serverConfig.upstream) : undefined;

  const logger = createJsonLogger();
  let apiKeys = configuredApiKeys(serverConfig.apiKeys);
  if (apiKeys.length === 0) {
    const generated = `ptc_${randomBytes(24).toString("base64url")}`;
    apiKeys = [generated];
    process.stderr.write(
      `ptc serve: no API key configured (server.apiKeys or PTC_API_KEYS); generated one for this run:\n  ${generated}\n`,
    );
  }

  const opened = await openTools({ ...toolOptions, sample });
  const engine = createEngine({
    pool: { allowDegradedIsolation },
    tools: opened.tools,
    ...(config.limits ? { limits: config.limits } : {}),
    ...(config.containerIdleTimeoutMs !== undefined ? { containerIdleTimeoutMs: config.containerIdleTimeoutMs } : {}),
  });
  // Every capacity limit, resolved once: the running cap, queue and container cap of the whole server (the
  // executions API and /v1/messages share them), and each key's share of them.
  const capacity = resolveServerCapacity(serverConfig, apiKeys.length);
  const owners = new ResourceOwners(capacity);
  const admission = createAdmissionController(capacity);
  let messages: MessagesHandler | undefined;
  if (upstream) {
    messages = createMessagesHandler({
      engine,
      serverTools: opened.tools,
      upstream,
      owners,
      admission,
    });
  }
  const serverApp = createServerApp({
    engine,
    owners,
    apiKeys,
    logger,
    admission,
    serverTools: opened.tools,
    ...(messages ? { messages } : {}),
    ...(config.limits ? { limits: config.limits } : {}),
  });

  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer({ serverApp, host, port, logger });
  } catch (error) {
    await Promise.allSettled([engine.close(), opened.close()]);
    throw error;
  }
  // Armed before the URL is printed: a supervisor (or a test) that sends SIGTERM the moment it reads the
  // URL must reach this handler, not Node's default, which kills the process with no clean-up.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  logger.log("info", "listening", {
    url: running.url,
    isolation: engine.isolation.level,
    tools: opened.tools.length,
    upstream: upstream?.provider ?? null,
    max_running: capacity.maxRunningExecutions,
    max_running_per_key: capacity.maxRunningExecutionsPerKey,
    max_queued: capacity.maxQueuedExecutions,
    max_queued_per_key: capacity.maxQueuedExecutionsPerKey,
    max_containers: capacity.maxContainers,
    max_containers_per_key: capacity.maxContainersPerKey,
  });
  // On stderr, as `ptc mcp --http` prints its URL: stdout carries nothing of ptc's.
  process.stderr.write(`ptc serve: listening on ${running.url}\n`);

  const signal = await stopSignal;
  // A second signal means "now": skip the grace period.
  const force = () => process.exit(1);
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  logger.log("info", "signal", { signal });
  await running.close(DEFAULT_SHUTDOWN_GRACE_MS);
  await engine.close();
  await opened.close();
  logger.log("info", "stopped");
  return 0;
}
