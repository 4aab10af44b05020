import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { loadConfig } from "../config/load-config.js";
import type { ServerConfig } from "../config/ptc-config.js";
import { createEngine } from "../engine/engine.js";
import { checkSandboxIsolation, resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";
import { createAdmissionController, resolveServerCapacity } from "../server/admission.js";
import { createMessagesHandler, type MessagesHandler } from "../server/anthropic/messages-handler.js";
import { dataDirectoryPath, defaultStorePath } from "../server/durable/data-directory.js";
import { DurableNode } from "../server/durable/durable-node.js";
import { createServerApp } from "../server/http/create-server-app.js";
import { createJsonLogger } from "../server/http/logger.js";
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SHUTDOWN_GRACE_MS, startServer } from "../server/http/start-server.js";
import { loadProgramSecret } from "../server/openai/program-fingerprint.js";
import { createResponsesHandler, type ResponsesHandler } from "../server/openai/responses-handler.js";
import type { StoredResponseLimits } from "../server/openai/stored-responses.js";
import { ResourceOwners } from "../server/resource-owners.js";
import { openStore } from "../server/store/open-store.js";
import type { Store } from "../server/store/store.js";
import { upstreamFromConfig } from "../upstream/upstream-from-config.js";
import { ALLOW_DEGRADED_ISOLATION, ALLOW_DEGRADED_ISOLATION_USAGE, parseArguments } from "./arguments.js";
import { openTools, TOOL_FLAGS, TOOL_FLAGS_USAGE, toolOptionsFromArguments } from "./open-tools.js";

export const SERVE_USAGE = `ptc serve [--config FILE] [--host HOST] [--port PORT] [--sample] [--mcp "COMMAND ..."] [--tools MODULE]
        [--store memory|PATH|postgres://...] [--node-id ID] [--advertise-url URL] [--allow-degraded-isolation]

HTTP server: the native executions API (/v1/executions, /v1/containers) and, with server.upstream
configured, Anthropic-compatible POST /v1/messages and OpenAI-compatible POST /v1/responses. Prints
"ptc serve: listening on URL" on stderr once bound; logs are JSON lines on stderr too. Docs: docs/server.md.

  --host HOST          interface to bind (default: server.host, else ${DEFAULT_HOST}: loopback only)
  --port PORT          port (default: server.port, else ${DEFAULT_PORT}; 0 picks a free one)
  --store STORE        where containers, executions and the journal of tool calls live, so paused
                       scripts survive a restart (default: server.store, else a SQLite file,
                       $PTC_DATA_DIR/store.db, ~/.local/share/ptc/store.db by default):
                         memory              nothing survives the process (tests, one-offs)
                         PATH | sqlite:PATH  a SQLite file: one node
                         postgres://...      PostgreSQL: any number of nodes behind a load balancer
  --node-id ID         this node's name on the store (default: server.nodeId, else HOST:PORT)
  --advertise-url URL  where other nodes forward requests for this node's containers (default:
                       server.advertiseUrl, else the URL it listens on). Docs: docs/durability.md
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
    [...TOOL_FLAGS.valued, "host", "port", "store", "node-id", "advertise-url"],
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

  const store = await openServerStore(parsed.flags.get("store"), serverConfig.store, serverConfig.leaseTtlMs);
  const opened = await openTools({ ...toolOptions, sample });
  const engine = createEngine({
    pool: { ...config.pool, allowDegradedIsolation },
    tools: opened.tools,
    ...(config.limits ? { limits: config.limits } : {}),
    ...(config.containerIdleTimeoutMs !== undefined ? { containerIdleTimeoutMs: config.containerIdleTimeoutMs } : {}),
  });
  // Every capacity limit, resolved once: the running cap, queue and container cap of the whole server (the
  // executions API and /v1/messages share them), and each key's share of them.
  const capacity = resolveServerCapacity(serverConfig, apiKeys.length);
  const owners = new ResourceOwners(capacity);
  const admission = createAdmissionController(capacity);
  const nodeFlag = parsed.flags.get("node-id");
  const durable = store
    ? new DurableNode({
        store,
        engine,
        serverTools: opened.tools,
        nodeId:
          typeof nodeFlag === "string" ? nodeFlag : (serverConfig.nodeId ?? `${hostname()}:${port || process.pid}`),
        ...(serverConfig.leaseTtlMs !== undefined ? { leaseTtlMs: serverConfig.leaseTtlMs } : {}),
        ...(serverConfig.evictIdleMs !== undefined ? { evictIdleMs: serverConfig.evictIdleMs } : {}),
        ...(serverConfig.shortageEvictIdleMs !== undefined
          ? { shortageEvictIdleMs: serverConfig.shortageEvictIdleMs }
          : {}),
        logger,
      })
    : undefined;
  let messages: MessagesHandler | undefined;
  let responses: ResponsesHandler | undefined;
  if (upstream) {
    const programSecret = await loadProgramSecret({
      configured: serverConfig.programSecret ?? (process.env.PTC_PROGRAM_SECRET || undefined),
      dataDirectory: dataDirectoryPath(),
    });
    responses = createResponsesHandler({
      engine,
      serverTools: opened.tools,
      upstream,
      admission,
      programSecret,
      logger,
      ...(store ? { store } : {}),
      ...storedResponseLimits(serverConfig),
    });
    messages = createMessagesHandler({
      engine,
      serverTools: opened.tools,
      upstream,
      owners,
      admission,
      logger,
      ...(durable ? { durable } : {}),
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
    ...(responses ? { responses } : {}),
    ...(config.limits ? { limits: config.limits } : {}),
    ...(durable ? { durable } : {}),
  });

  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer({ serverApp, host, port, logger });
    const advertise = parsed.flags.get("advertise-url");
    await durable?.start(typeof advertise === "string" ? advertise : (serverConfig.advertiseUrl ?? running.url));
  } catch (error) {
    await Promise.allSettled([engine.close(), opened.close()]);
    await durable?.close();
    await store?.close();
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
    store: store?.kind ?? "memory",
    node_id: durable?.nodeId ?? null,
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
  // Scripts the shutdown cancels stay unfinished in the store: the next node to take their containers resumes them.
  durable?.drain();
  await running.close(DEFAULT_SHUTDOWN_GRACE_MS);
  await engine.close();
  await durable?.close();
  await store?.close();
  await opened.close();
  logger.log("info", "stopped");
  return 0;
}

/**
 * The store `--store` (else `server.store`) names; undefined for `memory` (everything in this process).
 * By default a SQLite file in the data directory; without better-sqlite3 installed, the default falls back to
 * memory with a warning, while a store named explicitly that cannot open stops the server.
 */
async function openServerStore(
  flag: string | boolean | undefined,
  configured: string | undefined,
  leaseTtlMs: number | undefined,
): Promise<Store | undefined> {
  const named = typeof flag === "string" ? flag : configured;
  const url = named ?? defaultStorePath();
  if (url === "memory") return undefined;
  const options = leaseTtlMs !== undefined ? { leaseTtlMs } : {};
  try {
    return await openStore(url, options);
  } catch (error) {
    const missingDriver = /better-sqlite3/.test(String((error as Error)?.message ?? error));
    if (named !== undefined || !missingDriver) throw error;
    process.stderr.write(
      "ptc serve: better-sqlite3 is not installed, so the store is memory: paused scripts do not survive a restart (npm install better-sqlite3, or --store postgres://...)\n",
    );
    return undefined;
  }
}

/** The configured bounds on each key's `/v1/responses` stored responses (unset ones take the handler's defaults). */
export function storedResponseLimits(server: ServerConfig): StoredResponseLimits {
  return {
    ...(server.maxStoredResponsesPerKey !== undefined
      ? { maxStoredResponsesPerKey: server.maxStoredResponsesPerKey }
      : {}),
    ...(server.maxStoredResponseBytesPerKey !== undefined
      ? { maxStoredResponseBytesPerKey: server.maxStoredResponseBytesPerKey }
      : {}),
    ...(server.storedResponseRetentionMs !== undefined
      ? { storedResponseRetentionMs: server.storedResponseRetentionMs }
      : {}),
  };
}
