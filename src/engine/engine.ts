import { ErrorCode, PtcError } from "../protocol/errors.js";
import { type IsolationReport, type ResultMode, SCRIPT_LANGUAGES, type ScriptLanguage } from "../protocol/execution.js";
import { type ExecutionLimits, resolveLimits } from "../protocol/limits.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { SandboxPool } from "../sandbox/sandbox-pool.js";
import type { SandboxPoolOptions, SandboxPoolStats } from "../sandbox/sandbox-pool-options.js";
import { isolationFor } from "../sandbox/sandbox-runtime.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import { type ContainerInfo, ContainerManager, type ContainerTurn } from "./container-manager.js";
import { Execution, type ExecutionHandle } from "./execution.js";
import { currentExecutionDepth, DEFAULT_MAX_EXECUTION_DEPTH } from "./execution-depth.js";
import type { JournalStore } from "./journal.js";
import { newExecutionId } from "./random-id.js";
import {
  type ContainerHistory,
  type ReplayRequest,
  type RestoreReport,
  replayFrame,
  resumedCallIds,
} from "./replay.js";
import { loadTokenizer } from "./token-counter.js";
import type { WriteAhead } from "./write-ahead.js";

export interface EngineOptions {
  pool?: SandboxPoolOptions;
  /** Defaults for every execution of this engine; each execution may override them again. */
  limits?: Partial<ExecutionLimits>;
  /** Tools available to every execution (an execution's own tools are added to these). */
  tools?: readonly ToolDefinition[];
  resultMode?: ResultMode;
  /** A container nobody used this long is ended. Default `DEFAULT_CONTAINER_IDLE_TIMEOUT_MS` (5 minutes). */
  containerIdleTimeoutMs?: number;
  journalStore?: JournalStore;
  /**
   * How deeply executions may nest through tool handlers that call `execute` themselves (default
   * `DEFAULT_MAX_EXECUTION_DEPTH`; the top-level execution is depth 1). Past it `execute` throws a
   * PtcError `execution_depth_limit`, which the calling script sees as a ToolError with that code.
   */
  maxExecutionDepth?: number;
}

export interface ExecuteRequest {
  code: string;
  /**
   * Default python. `javascript` and `typescript` run in a fresh QuickJS (WebAssembly) interpreter per
   * execution; they may name a `container` (they then take its turn and its sandbox) but keep no state
   * between executions, and leave its Python state untouched.
   */
  language?: ScriptLanguage;
  tools?: readonly ToolDefinition[];
  /** Reuse this container's Python state (created on first use). Omit for a one-off container. */
  container?: string;
  /** A turn the caller holds in `container` (`engine.containers.turn`): the execution runs in it, without queueing again. */
  containerTurn?: ContainerTurn;
  limits?: Partial<ExecutionLimits>;
  resultMode?: ResultMode;
  executionId?: string;
  /**
   * The name of the runner (`ptc run`, `ptc mcp`, an in-process agent) when no caller will answer calls
   * to tools without a handler: such a call fails at once with a `ToolError` "<tool> has no handler in
   * <runnerWithoutCaller>" instead of pausing until the pending-call timeout.
   */
  runnerWithoutCaller?: string;
  /**
   * Runs a journaled execution again (replay.ts): its journaled calls are answered in the sandbox from
   * `replay.calls`, checked against the tool and arguments the script now calls with; calls without an
   * outcome and past the journal go live. A divergence fails it with `replay_diverged` and ends the
   * container (`lost`). A journal past `MAX_REPLAY_FRAME_CHARS` throws `replay_too_large` here.
   */
  replay?: ReplayRequest;
  /** Makes each call durable before it is dispatched and each outcome before the sandbox sees it (write-ahead.ts). */
  writeAhead?: WriteAhead;
  /** Mints the execution's call ids (default: a per-execution prefix and a counter). */
  newCallId?: () => string;
}

export interface Engine {
  execute(request: ExecuteRequest): ExecutionHandle;
  /** The one owner of containers: ids, owners, expiry, tombstones, turns, quota, the ended event. */
  readonly containers: ContainerManager;
  /** Ends a container and kills its sandbox. */
  closeContainer(containerId: string): boolean;
  hasContainer(containerId: string): boolean;
  /**
   * Rebuilds a container's Python state in a fresh sandbox: makes it live under its id and seed, then runs
   * its finished executions again, oldest first, their calls answered from the journal (no handler runs,
   * output discarded). A paused execution is then continued with `execute({ container, replay })`.
   * Throws `replay_too_large` before anything runs; on a divergence the container ends (`lost`) and it
   * throws `replay_diverged`; a live container is `invalid_request`.
   */
  restoreContainer(containerId: string, history: ContainerHistory): Promise<RestoreReport>;
  inspectContainer(containerId: string): ContainerInfo | undefined;
  readonly isolation: IsolationReport;
  stats(): { pool: SandboxPoolStats; containers: number; running: number };
  /** `listener` runs each time an execution waits for a sandbox (none warm); the returned function unsubscribes. */
  onSandboxShortage(listener: () => void): () => void;
  /** Root process ids of every live sandbox: anything else under this process is not ptc's. */
  sandboxPids(): number[];
  /** Resolves once the warm pool is full. */
  warmUp(): Promise<void>;
  /**
   * Cancels running executions, ends every container and kills every sandbox. An engine left open does
   * not keep the process alive once nothing runs: idle sandboxes and timers are unref'd (and die with it).
   */
  close(): Promise<void>;
}

/** The request's language, or a PtcError: `invalid_request` for an unknown one, `typescript_unavailable`. */
function checkedLanguage(language: unknown, typescript: boolean): ScriptLanguage {
  if (language === undefined) return "python";
  if (!SCRIPT_LANGUAGES.includes(language as ScriptLanguage)) {
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `language must be one of ${SCRIPT_LANGUAGES.join(", ")}, got ${JSON.stringify(language)}`,
    );
  }
  if (language === "typescript" && !typescript) {
    throw new PtcError(
      ErrorCode.TypeScriptUnavailable,
      "the sandbox's Node cannot strip TypeScript types (it needs Node >= 22.13): run `npx ptc setup`, or send JavaScript",
    );
  }
  return language as ScriptLanguage;
}

export function createEngine(options: EngineOptions = {}): Engine {
  const pool = new SandboxPool(options.pool);
  const containers = new ContainerManager(pool, {
    ...(options.containerIdleTimeoutMs !== undefined ? { idleTimeoutMs: options.containerIdleTimeoutMs } : {}),
  });
  const engineLimits = resolveLimits(options.limits);
  const baseTools = options.tools ?? [];
  const registries = new WeakMap<readonly ToolDefinition[], ToolRegistry>();
  const baseRegistry = ToolRegistry.from(baseTools);
  const running = new Set<Execution>();
  const maxDepth = options.maxExecutionDepth ?? DEFAULT_MAX_EXECUTION_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new PtcError(ErrorCode.InvalidRequest, `maxExecutionDepth must be a positive integer, got ${maxDepth}`);
  }
  let closed = false;
  void loadTokenizer();

  function registryFor(tools: readonly ToolDefinition[] | undefined): ToolRegistry {
    if (!tools || tools.length === 0) return baseRegistry;
    let registry = registries.get(tools);
    if (!registry) {
      registry = ToolRegistry.from([...baseTools, ...tools]);
      registries.set(tools, registry);
    }
    return registry;
  }

  return {
    isolation: pool.runtime.isolation,
    containers,
    execute(request) {
      if (closed) throw new PtcError(ErrorCode.EngineClosed, "the engine is closed");
      if (typeof request.code !== "string") throw new PtcError(ErrorCode.InvalidRequest, "code must be a string");
      const language = checkedLanguage(request.language, pool.runtime.typescript);
      // Inside a tool handler of an execution at depth N, this execution would be at N + 1.
      const depth = currentExecutionDepth() + 1;
      if (depth > maxDepth) {
        throw new PtcError(
          ErrorCode.ExecutionDepthLimit,
          `executions nest at most ${maxDepth} deep: a tool handler started one more (a tool that runs a script calling itself?)`,
          { depth, maxDepth },
        );
      }
      const replay = request.replay ? replayFrame(request.replay) : undefined;
      const resumed = request.replay ? resumedCallIds(request.replay) : [];
      const execution = new Execution({
        id: request.executionId ?? newExecutionId(),
        code: request.code,
        language,
        containerId: request.container,
        registry: registryFor(request.tools),
        limits: resolveLimits(engineLimits, request.limits),
        resultMode: request.resultMode ?? options.resultMode ?? "json",
        isolation: isolationFor(pool.runtime, language),
        lease: (cancel) => containers.lease(request.container, cancel, request.containerTurn, language === "python"),
        ...(options.journalStore ? { journalStore: options.journalStore } : {}),
        ...(request.runnerWithoutCaller !== undefined ? { runnerWithoutCaller: request.runnerWithoutCaller } : {}),
        ...(replay ? { replay } : {}),
        ...(resumed.length > 0 ? { resumedCallIds: resumed } : {}),
        ...(request.writeAhead ? { writeAhead: request.writeAhead } : {}),
        ...(request.newCallId ? { newCallId: request.newCallId } : {}),
      });
      const container = request.container;
      if (replay && container !== undefined) {
        // Registered before the caller's own handlers: the container is ended by the time they see the result.
        void execution.result.then((result) => {
          if (result.error?.code === ErrorCode.ReplayDiverged) containers.end(container, "lost");
        });
      }
      running.add(execution);
      // Both branches: bookkeeping must not add an unhandled rejection of its own.
      const forget = () => running.delete(execution);
      execution.result.then(forget, forget);
      return execution;
    },
    async restoreContainer(containerId, history) {
      const started = performance.now();
      const common = {
        container: containerId,
        ...(history.tools ? { tools: history.tools } : {}),
        ...(history.limits ? { limits: history.limits } : {}),
        ...(history.resultMode ? { resultMode: history.resultMode } : {}),
      };
      // Every journal is checked for size before a sandbox is touched.
      for (const { calls } of history.executions) replayFrame({ calls, finished: true });
      containers.reopen(containerId, {
        seed: history.seed,
        ...(history.owner !== undefined ? { owner: history.owner } : {}),
        ...(history.origin !== undefined ? { origin: history.origin } : {}),
      });
      let calls = 0;
      let runMs = 0;
      for (const [index, { code, calls: journaled, ...own }] of history.executions.entries()) {
        const replay = { calls: journaled, finished: true };
        const result = await this.execute({ ...common, ...own, code, replay }).result;
        calls += journaled.length;
        runMs += result.timings.totalMs - result.timings.sandboxWaitMs;
        const lost = result.error?.code === ErrorCode.ReplayDiverged;
        if (lost || !containers.has(containerId) || result.status === "cancelled") {
          containers.end(containerId, "lost");
          const message = `container ${containerId} could not be rebuilt: execution ${index + 1} of ${history.executions.length}: ${result.error?.message ?? "it was cancelled"}`;
          throw new PtcError(lost ? ErrorCode.ReplayDiverged : (result.error?.code ?? ErrorCode.Cancelled), message, {
            containerId,
            execution: index + 1,
          });
        }
      }
      return { containerId, executions: history.executions.length, calls, ms: performance.now() - started, runMs };
    },
    closeContainer: (containerId) => containers.end(containerId, "deleted"),
    hasContainer: (containerId) => containers.has(containerId),
    inspectContainer: (containerId) => containers.inspect(containerId),
    stats: () => ({ pool: pool.stats(), containers: containers.ids().length, running: running.size }),
    onSandboxShortage: (listener) => pool.onShortage(listener),
    sandboxPids: () => pool.livePids(),
    warmUp: () => pool.warmUp(),
    async close() {
      if (closed) return;
      closed = true;
      for (const execution of running) execution.cancel("engine closed");
      await Promise.allSettled([...running].map((execution) => execution.result));
      containers.closeAll();
      await pool.close();
    },
  };
}
