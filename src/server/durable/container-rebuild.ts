import type { Engine } from "../../engine/engine.js";
import type { WriteAhead } from "../../engine/write-ahead.js";
import type { Logger } from "../http/logger.js";
import type { ContainerLease, Store, StoredContainer } from "../store/store.js";
import { interruptCalls, languageOf, type Revive, replayPlan } from "./container-history.js";
import type { Placement } from "./placement.js";
import { callResultOf } from "./store-journal.js";

/** What a rebuild uses of the node that claimed the container (durable-node.ts). */
export interface RebuildingNode {
  store: Pick<Store, "containerHistory" | "recordCallResult">;
  engine: Pick<Engine, "restoreContainer" | "containers" | "execute">;
  logger: Logger;
  /** The server's tools with a handler: a call of one journaled without an outcome may have run already. */
  handlerTools: ReadonlySet<string>;
  lease(containerId: string): ContainerLease;
  writeAhead(containerId: string, executionId: string): WriteAhead;
}

/**
 * Rebuilds a container this node just claimed from its stored history: its finished executions are replayed
 * into a fresh sandbox (`engine.restoreContainer`), the calls a crash interrupted in its unfinished one are
 * recorded as such, and that execution runs again (its journaled calls answered by replay) in the container's
 * turn: `resumed`, for the API to hand over.
 */
export async function rebuildContainer(
  container: StoredContainer,
  revive: Revive,
  node: RebuildingNode,
): Promise<Placement> {
  const { finished, unfinished } = replayPlan(await node.store.containerHistory(container.id), revive);
  const restore = await node.engine.restoreContainer(container.id, {
    seed: container.seed,
    ...(container.owner !== undefined ? { owner: container.owner } : {}),
    ...(container.origin !== undefined ? { origin: container.origin } : {}),
    executions: finished,
  });
  node.logger.log("info", "container-restored", {
    container_id: container.id,
    epoch: container.epoch,
    executions: restore.executions,
    calls: restore.calls,
    ms: Math.round(restore.ms),
  });
  if (!unfinished) return { kind: "local" };
  const calls = await interruptCalls(unfinished, revive(unfinished.execution), node.handlerTools, (call, outcome) =>
    node.store.recordCallResult(node.lease(container.id), call.executionId, call.guestCallId, callResultOf(outcome)),
  );
  const turn = node.engine.containers.turn(container.id);
  await turn.granted;
  const handle = node.engine.execute({
    code: unfinished.execution.code,
    container: container.id,
    containerTurn: turn,
    executionId: unfinished.execution.id,
    replay: { calls },
    writeAhead: node.writeAhead(container.id, unfinished.execution.id),
    ...languageOf(unfinished.execution),
    ...revive(unfinished.execution),
  });
  return { kind: "local", resumed: { stored: unfinished.execution, handle, turn, restore } };
}
