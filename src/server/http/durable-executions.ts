import type { ContainerRecord } from "../../engine/container-registry.js";
import type { Engine } from "../../engine/engine.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import type { WriteAhead } from "../../engine/write-ahead.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult, ResultMode } from "../../protocol/execution.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { finishedView, languageOf } from "../durable/container-history.js";
import type { DurableNode, ExecutionRevival, ResumedExecution } from "../durable/durable-node.js";
import { ContainerElsewhere } from "../durable/forward-request.js";
import type { StoredContainer, StoredExecution as StoredRecord } from "../store/store.js";
import { EXECUTIONS_ORIGIN } from "./container-records.js";
import { type StoredRequest as Request, StoredExecution } from "./stored-execution.js";

/**
 * What the executions API stores with an execution to run it again: the client's tools, limits, result mode
 * (the language has a column of its own: `languageOf`).
 */
interface ExecutionOptions {
  tools: Array<Pick<ToolDefinition, "name" | "description" | "allowedCallers"> & { inputSchema: JsonValue }>;
  limits: Partial<ExecutionLimits>;
  resultMode?: ResultMode;
}

/** A finished stored execution as the API knows it again after a restart or on another node. */
export interface FinishedExecution {
  record: StoredRecord;
  result: ExecutionResult;
}

/**
 * The executions API on a durable node: its containers and executions in the store, looked up there when
 * this process does not hold them (after a restart, on another node), and written ahead of every answer.
 */
export class DurableExecutions {
  constructor(
    readonly node: DurableNode,
    private readonly engine: Engine,
  ) {}

  options(request: Request): JsonValue {
    const options: ExecutionOptions = {
      // Client tools only (no handler): the server's own come from the engine.
      tools: (request.tools ?? []).map((tool) => ({
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        inputSchema: tool.inputSchema as JsonValue,
        ...(tool.allowedCallers ? { allowedCallers: tool.allowedCallers } : {}),
      })),
      limits: request.limits ?? {},
      ...(request.resultMode ? { resultMode: request.resultMode } : {}),
    };
    return options as unknown as JsonValue;
  }

  readonly revive = (execution: StoredRecord): ExecutionRevival & { code: string } => {
    const options = execution.options as unknown as Partial<ExecutionOptions>;
    return {
      code: execution.code,
      tools: (options.tools ?? []) as ToolDefinition[],
      limits: options.limits ?? {},
      ...(options.resultMode ? { resultMode: options.resultMode } : {}),
    };
  };

  /** A new container of `owner`, in the store before it is used (fail closed). */
  newContainer(owner: string, create: () => Readonly<ContainerRecord>): Promise<Readonly<ContainerRecord>> {
    return this.node.createContainer(owner, EXECUTIONS_ORIGIN, create);
  }

  /**
   * The owner's live container `id`, here: rebuilt by replay when this process does not hold it (its
   * unfinished execution comes back as `resumed`). 404 unknown, 410 ended, `ContainerElsewhere` when another
   * live node holds it.
   */
  async live(owner: string, id: string): Promise<{ record: Readonly<ContainerRecord>; resumed?: ResumedExecution }> {
    const placement = await this.node.place(id, { owner, origin: EXECUTIONS_ORIGIN }, this.revive);
    switch (placement.kind) {
      case "unknown":
        throw new PtcError(ErrorCode.NotFound, `container ${id} not found`);
      case "ended":
        throw ended(placement.stored);
      case "remote":
        throw new ContainerElsewhere(id, placement.nodeId, placement.url);
    }
    const record = this.engine.containers.record(id);
    if (!record) throw new PtcError(ErrorCode.NotFound, `container ${id} not found`);
    return { record, ...(placement.resumed ? { resumed: placement.resumed } : {}) };
  }

  /** The owner's container, live or ended, as the store has it (for DELETE); 404 when unknown or another's. */
  async lookup(owner: string, id: string): Promise<StoredContainer> {
    const stored = await this.node.store.getContainer(id);
    if (!stored || stored.owner !== owner || stored.origin !== EXECUTIONS_ORIGIN) {
      throw new PtcError(ErrorCode.NotFound, `container ${id} not found`);
    }
    return stored;
  }

  /** Ends the container everywhere and forgets it, its executions and their journals. */
  async delete(id: string): Promise<void> {
    await this.node.endContainer(id, "deleted");
    await this.node.store.deleteContainer(id);
  }

  /** The owner's stored execution: finished (its result as answered), or unfinished (its container to place). */
  async execution(owner: string, id: string): Promise<StoredRecord | undefined> {
    return this.node.execution(id, owner);
  }

  /** The API's entry for a stored execution, its request revived (tools, limits, result mode, language). */
  entry(owner: string, stored: StoredRecord): StoredExecution {
    const { code, tools, limits, resultMode } = this.revive(stored);
    const { language } = languageOf(stored);
    const request = {
      code,
      ...(tools ? { tools } : {}),
      ...(limits ? { limits } : {}),
      ...(resultMode ? { resultMode } : {}),
      ...(language ? { language } : {}),
    };
    return new StoredExecution(stored.id, owner, stored.containerId, request, stored.startedAt);
  }

  finished(record: StoredRecord): FinishedExecution | undefined {
    const view = finishedView(record);
    return view === undefined ? undefined : { record, result: view as unknown as ExecutionResult };
  }

  /** Ids of the client calls the stored execution already had answered: sent again, they are duplicates. */
  async answeredCallIds(executionId: string): Promise<string[]> {
    const calls = await this.node.store.journal(executionId);
    return calls.filter((call) => call.outcome !== undefined).map((call) => call.callId);
  }

  begin(containerId: string, id: string, owner: string, code: string, request: Request): Promise<WriteAhead> {
    return this.node.beginExecution(containerId, {
      id,
      code,
      ...(request.language ? { language: request.language } : {}),
      apiKeyOwner: owner,
      options: this.options(request),
    });
  }

  /**
   * Records the end before it is answered (write first, answer second); the result as stored is what a
   * lookup answers later. Resolves to the error the execution's requests answer instead (503) when its end
   * is not durable: the store refused a write during the run (its result says so), or this one.
   */
  async finish(
    containerId: string,
    id: string,
    handle: ExecutionHandle | undefined,
    result: ExecutionResult,
  ): Promise<PtcError | undefined> {
    const refused = result.error?.code;
    if (refused === ErrorCode.StoreUnavailable || refused === ErrorCode.ContainerLeaseLost) {
      return new PtcError(refused, result.error?.message ?? refused, {}, { retryAfterSeconds: 1 });
    }
    try {
      await this.node.finishExecution(containerId, id, handle ?? { stateKept: undefined }, result, recordable(result));
      return undefined;
    } catch (error) {
      const code = PtcError.isInstance(error) ? error.code : ErrorCode.StoreUnavailable;
      const message = `the result could not be made durable: ${error instanceof Error ? error.message : String(error)}`;
      return new PtcError(code, message, {}, { retryAfterSeconds: 1 });
    }
  }
}

/** Past this, a stored result keeps its tool calls' summary without their inputs. */
const MAX_STORED_RESULT_CHARS = 4 * 1_048_576;

function recordable(result: ExecutionResult): JsonValue {
  const json = JSON.stringify(result);
  if (json.length <= MAX_STORED_RESULT_CHARS) return JSON.parse(json) as JsonValue;
  const slim = { ...result, toolCalls: result.toolCalls.map((call) => ({ ...call, input: {} })) };
  return JSON.parse(JSON.stringify(slim)) as JsonValue;
}

function ended(stored: StoredContainer): PtcError {
  const why =
    stored.endReason === "evicted"
      ? "was ended to make room for newer containers of this API key"
      : stored.endReason === "lost"
        ? "was lost (rebuilding it by replay diverged from its journal)"
        : stored.endReason === "deleted"
          ? "was deleted"
          : "expired";
  return new PtcError(ErrorCode.ContainerExpired, `container ${stored.id} ${why}; its Python state is gone`);
}
