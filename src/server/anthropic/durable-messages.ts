import type { ContainerRecord } from "../../engine/container-registry.js";
import type { ExecutionHandle } from "../../engine/execution.js";
import { newExecutionId } from "../../engine/random-id.js";
import type { WriteAhead } from "../../engine/write-ahead.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ExecutionResult } from "../../protocol/execution.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import type { DurableNode, ExecutionRevival } from "../durable/durable-node.js";
import { ContainerElsewhere } from "../durable/forward-request.js";
import type { StoredContainer, StoredExecution } from "../store/store.js";
import { newToolUseId } from "./response-builder.js";
import type { CodeToolVersion } from "./tool-validation.js";

/** `/v1/messages`' containers in the engine's `ContainerManager` (the executions API's are not its). */
export const MESSAGES_ORIGIN = "messages";

/** What this endpoint stores with each script: the client's code-callable tools and the wire ids it reported. */
interface ScriptOptions {
  tools: Array<Pick<ToolDefinition, "name" | "description" | "allowedCallers"> & { inputSchema: JsonValue }>;
  serverToolUseId: string;
  callerType: CodeToolVersion;
}

/** A container of this endpoint brought back on this node, with the script it had paused (if any). */
export interface RestoredContainer {
  /** Every tool_use id code in it reported (a client may send them back without `caller`). */
  codeCallIds: Set<string>;
  script?: {
    handle: ExecutionHandle;
    serverToolUseId: string;
    callerType: CodeToolVersion;
    /** Its calls the journal says were reported and are still unanswered, and those already answered. */
    reported: string[];
    answered: string[];
  };
}

/**
 * `/v1/messages` on a durable node: containers and scripts in the store, the call ids the client sees
 * (`toolu_…`) as the journal's call ids, and a container this process does not hold brought back by replay
 * (or its request forwarded to the node holding it).
 */
export class DurableMessages {
  constructor(
    readonly node: DurableNode,
    private readonly executionLimits: Partial<ExecutionLimits> | undefined,
  ) {}

  readonly revive = (execution: StoredExecution): ExecutionRevival => {
    const options = execution.options as unknown as Partial<ScriptOptions>;
    return {
      tools: (options.tools ?? []) as ToolDefinition[],
      resultMode: "text",
      newCallId: newToolUseId,
      ...(this.executionLimits ? { limits: this.executionLimits } : {}),
    };
  };

  create(owner: string, create: () => Readonly<ContainerRecord>): Promise<Readonly<ContainerRecord>> {
    return this.node.createContainer(owner, MESSAGES_ORIGIN, create);
  }

  /**
   * The owner's container `id`, brought to this node. `undefined` when it is unknown (or another key's);
   * the stored container when it ended; `ContainerElsewhere` when another live node holds it.
   */
  async restore(id: string, owner: string): Promise<RestoredContainer | StoredContainer | undefined> {
    const placement = await this.node.place(id, { owner, origin: MESSAGES_ORIGIN }, this.revive);
    if (placement.kind === "unknown") return undefined;
    if (placement.kind === "ended") return placement.stored;
    if (placement.kind === "remote") throw new ContainerElsewhere(id, placement.nodeId, placement.url);
    const history = await this.node.store.containerHistory(id);
    const codeCallIds = new Set(history.flatMap(({ calls }) => calls.map((call) => call.callId)));
    const resumed = placement.resumed;
    if (!resumed) return { codeCallIds };
    // The run took its lease when it started; the request that answers it takes a turn of its own.
    resumed.turn.release();
    const options = resumed.stored.options as unknown as Partial<ScriptOptions>;
    const calls = history.find(({ execution }) => execution.id === resumed.stored.id)?.calls ?? [];
    return {
      codeCallIds,
      script: {
        handle: resumed.handle,
        serverToolUseId: options.serverToolUseId ?? "",
        callerType: options.callerType ?? "code_execution_20260120",
        reported: calls.filter((call) => call.outcome === undefined).map((call) => call.callId),
        answered: calls.filter((call) => call.outcome !== undefined).map((call) => call.callId),
      },
    };
  }

  /** Records a script before it runs; its calls then go through the returned write-ahead. */
  async begin(
    containerId: string,
    owner: string,
    code: string,
    script: { tools: readonly ToolDefinition[]; serverToolUseId: string; callerType: CodeToolVersion },
  ): Promise<{ executionId: string; writeAhead: WriteAhead }> {
    const options: ScriptOptions = {
      // The client's tools (no handler); the server's come from the engine.
      tools: script.tools
        .filter((tool) => !tool.handler)
        .map((tool) => ({
          name: tool.name,
          ...(tool.description !== undefined ? { description: tool.description } : {}),
          inputSchema: tool.inputSchema as JsonValue,
          ...(tool.allowedCallers ? { allowedCallers: tool.allowedCallers } : {}),
        })),
      serverToolUseId: script.serverToolUseId,
      callerType: script.callerType,
    };
    const executionId = newExecutionId();
    const writeAhead = await this.node.beginExecution(containerId, {
      id: executionId,
      code,
      apiKeyOwner: owner,
      options: options as unknown as JsonValue,
    });
    return { executionId, writeAhead };
  }

  /** Records a script's end before its result block is sent (what it printed is in the client's history). */
  finish(containerId: string, executionId: string, handle: ExecutionHandle, result: ExecutionResult): Promise<void> {
    const view = { status: result.status, error: result.error ? { code: result.error.code } : null };
    return this.node.finishExecution(containerId, executionId, handle, result, view);
  }
}

/** A container of this endpoint that is gone, as the hosted API says it. */
export function containerGone(id: string, reason: string | undefined, idleTimeoutMs: number): PtcError {
  const why =
    reason === "evicted"
      ? "was ended to make room for a newer container of this API key (its container quota or the server's cap was reached)"
      : reason === "lost"
        ? "was lost: rebuilding its Python state by replay diverged from its journal"
        : `has expired (containers are removed after ${Math.round(idleTimeoutMs / 1000)} s without use)`;
  // Anthropic's rendering says it as a 400 led by the code: `container_expired: container …`.
  return new PtcError(
    ErrorCode.ContainerExpired,
    `container ${id} ${why}, with its Python state and any paused code. Send the request again without "container" to start a new one.`,
  );
}
