import type { ContainerEndReason } from "../../engine/container-registry.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import { MemoryResponses } from "./memory-responses.js";
import {
  type CallResult,
  type ContainerLease,
  DEFAULT_SWEEP_LIMIT,
  type EndedContainerBounds,
  type ExecutionFinish,
  type ExecutionHistory,
  type JournalCall,
  type NewCall,
  type NewContainer,
  type NewExecution,
  resolveStoreOptions,
  type Store,
  type StoredContainer,
  type StoredExecution,
  type StoredResponse,
  type StoredResponseBounds,
  type StoreOptions,
  type WorkerRecord,
} from "./store.js";
import {
  callFingerprint,
  callNotFound,
  canonicalJson,
  checkRecordable,
  checkSameCall,
  checkSameResult,
  conflict,
  executionNotFound,
  fencingError,
  recordable,
} from "./store-values.js";

export interface MemoryStoreOptions extends StoreOptions {
  /** The store's clock. Default `Date.now`. */
  now?: () => number;
}

/**
 * The store in one process's memory: `--store memory`, tests, and the reference the SQL backends are held
 * to by the conformance suite. Nothing survives the process. Records are copied in and out, so a caller
 * cannot change what is stored by mutating what it got.
 */
export class MemoryStore implements Store {
  readonly kind = "memory";
  readonly #containers = new Map<string, StoredContainer>();
  readonly #executions = new Map<string, StoredExecution>();
  /** Per execution, its calls in guest order. */
  readonly #journals = new Map<string, JournalCall[]>();
  readonly #workers = new Map<string, { url: string; heartbeatAt: number }>();
  /** `/v1/responses`' kept responses and their items with ids. */
  readonly #responses: MemoryResponses;
  readonly #now: () => number;
  readonly #maxBytes: number;
  readonly #leaseTtlMs: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    ({ maxRecordedValueBytes: this.#maxBytes, leaseTtlMs: this.#leaseTtlMs } = resolveStoreOptions(options));
    this.#responses = new MemoryResponses(this.#now, this.#maxBytes);
  }

  async createContainer(container: NewContainer): Promise<StoredContainer> {
    if (this.#containers.has(container.id)) throw conflict(`container ${container.id} already exists`);
    const now = this.#now();
    const record: StoredContainer = {
      id: container.id,
      owner: container.owner,
      ...(container.origin === undefined ? {} : { origin: container.origin }),
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + container.idleTimeoutMs,
      status: "live",
      epoch: 1,
      seed: container.seed,
      ownerNode: container.ownerNode,
    };
    this.#containers.set(record.id, record);
    return { ...record };
  }

  async getContainer(id: string): Promise<StoredContainer | undefined> {
    const record = this.#containers.get(id);
    return record && { ...record };
  }

  async liveContainers(ownerNode?: string): Promise<StoredContainer[]> {
    return [...this.#containers.values()]
      .filter((c) => c.status === "live" && (ownerNode === undefined || c.ownerNode === ownerNode))
      .map((c) => ({ ...c }));
  }

  async claimContainer(id: string, node: string, seenEpoch: number): Promise<StoredContainer | undefined> {
    const record = this.#containers.get(id);
    if (record?.status !== "live" || record.epoch !== seenEpoch) return undefined;
    const holder = record.ownerNode;
    if (holder !== undefined && holder !== node && this.#alive(holder)) return undefined;
    const claimed = { ...record, epoch: record.epoch + 1, ownerNode: node };
    this.#containers.set(id, claimed);
    return { ...claimed };
  }

  async touchContainer(lease: ContainerLease, idleTimeoutMs: number): Promise<StoredContainer> {
    const record = this.#fenced(lease);
    const now = this.#now();
    const touched = { ...record, lastUsedAt: now, expiresAt: now + idleTimeoutMs };
    this.#containers.set(record.id, touched);
    return { ...touched };
  }

  async endContainer(id: string, reason: ContainerEndReason, lease?: ContainerLease): Promise<boolean> {
    if (lease) this.#fenced(lease);
    const record = this.#containers.get(id);
    if (record?.status !== "live") return false;
    this.#end(record, reason);
    return true;
  }

  async deleteContainer(id: string): Promise<void> {
    this.#containers.delete(id);
    for (const execution of [...this.#executions.values()]) {
      if (execution.containerId !== id) continue;
      this.#executions.delete(execution.id);
      this.#journals.delete(execution.id);
    }
  }

  async sweepExpired(limit = DEFAULT_SWEEP_LIMIT): Promise<StoredContainer[]> {
    const now = this.#now();
    const expired = [...this.#containers.values()]
      .filter((c) => c.status === "live" && c.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .slice(0, limit);
    return expired.map((c) => this.#end(c, "expired"));
  }

  async pruneEnded(bounds: EndedContainerBounds): Promise<number> {
    const cutoff = this.#now() - bounds.endedContainerRetentionMs;
    const ended = [...this.#containers.values()]
      .filter((c) => c.status === "ended")
      .sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    const keep = Math.max(0, bounds.maxEndedContainers);
    const forget = ended.filter((c, i) => i < ended.length - keep || (c.endedAt ?? 0) < cutoff);
    for (const c of forget) await this.deleteContainer(c.id);
    return forget.length;
  }

  async createExecution(lease: ContainerLease, execution: NewExecution): Promise<StoredExecution> {
    this.#fenced(lease);
    checkRecordable(`the code of execution ${execution.id}`, execution.code, this.#maxBytes);
    if (this.#executions.has(execution.id)) throw conflict(`execution ${execution.id} already exists`);
    let ordinal = 0;
    for (const e of this.#executions.values()) {
      if (e.containerId === lease.containerId) ordinal = Math.max(ordinal, e.ordinal);
    }
    const options = JSON.parse(
      recordable(`the options of execution ${execution.id}`, execution.options ?? {}, this.#maxBytes),
    ) as JsonValue;
    const record: StoredExecution = {
      ...execution,
      options,
      containerId: lease.containerId,
      ordinal: ordinal + 1,
      status: "running",
      result: undefined,
      startedAt: this.#now(),
      finishedAt: undefined,
    };
    this.#executions.set(record.id, record);
    this.#journals.set(record.id, []);
    return { ...record };
  }

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    const record = this.#executions.get(id);
    return record && { ...record };
  }

  async setExecutionStatus(lease: ContainerLease, id: string, status: "running" | "paused"): Promise<StoredExecution> {
    const record = this.#leasedExecution(lease, id);
    if (record.status === "done" || record.status === "failed") {
      throw conflict(`execution ${id} has finished (${record.status})`, { executionId: id, status: record.status });
    }
    const changed = { ...record, status };
    this.#executions.set(id, changed);
    return { ...changed };
  }

  async finishExecution(lease: ContainerLease, id: string, finish: ExecutionFinish): Promise<StoredExecution> {
    const record = this.#leasedExecution(lease, id);
    const resultJson = recordable(`the result of execution ${id}`, finish.result, this.#maxBytes);
    if (record.status === "done" || record.status === "failed") {
      if (record.status === finish.status && canonicalJson(record.result ?? null) === resultJson) return { ...record };
      throw conflict(`execution ${id} already finished with another result`, {
        executionId: id,
        status: record.status,
      });
    }
    const finished = { ...record, status: finish.status, result: parse(resultJson), finishedAt: this.#now() };
    this.#executions.set(id, finished);
    return { ...finished };
  }

  async containerHistory(containerId: string): Promise<ExecutionHistory[]> {
    return [...this.#executions.values()]
      .filter((e) => e.containerId === containerId)
      .sort((a, b) => a.ordinal - b.ordinal)
      .map((e) => ({ execution: { ...e }, calls: (this.#journals.get(e.id) ?? []).map((c) => ({ ...c })) }));
  }

  async appendCall(lease: ContainerLease, executionId: string, call: NewCall): Promise<JournalCall> {
    this.#leasedExecution(lease, executionId);
    const { inputJson, argsSha256 } = callFingerprint(call, this.#maxBytes);
    const calls = this.#journals.get(executionId) ?? [];
    const existing = calls.find((c) => c.guestCallId === call.guestCallId);
    if (existing) {
      checkSameCall(existing, call, argsSha256);
      return { ...existing };
    }
    if (calls.some((c) => c.callId === call.callId)) {
      throw conflict(`call id ${call.callId} is already journaled in execution ${executionId}`);
    }
    const record: JournalCall = {
      executionId,
      n: calls.length + 1,
      guestCallId: call.guestCallId,
      callId: call.callId,
      tool: call.tool,
      argsSha256,
      input: parse(inputJson),
      outcome: undefined,
      value: undefined,
      completedOrder: undefined,
      calledAt: this.#now(),
      completedAt: undefined,
    };
    calls.push(record);
    this.#journals.set(executionId, calls);
    return { ...record };
  }

  async recordCallResult(
    lease: ContainerLease,
    executionId: string,
    guestCallId: number,
    result: CallResult,
  ): Promise<JournalCall> {
    this.#leasedExecution(lease, executionId);
    const calls = this.#journals.get(executionId) ?? [];
    const index = calls.findIndex((c) => c.guestCallId === guestCallId);
    const existing = calls[index];
    if (!existing) throw callNotFound(executionId, guestCallId);
    const valueJson = recordable(`the result of tool call ${existing.callId}`, result.value, this.#maxBytes);
    if (existing.outcome !== undefined) {
      checkSameResult(existing, result, valueJson);
      return { ...existing };
    }
    const completed = calls.reduce((max, c) => Math.max(max, c.completedOrder ?? 0), 0);
    const record: JournalCall = {
      ...existing,
      outcome: result.outcome,
      value: parse(valueJson),
      completedOrder: completed + 1,
      completedAt: this.#now(),
    };
    calls[index] = record;
    return { ...record };
  }

  async journal(executionId: string): Promise<JournalCall[]> {
    return (this.#journals.get(executionId) ?? []).map((c) => ({ ...c }));
  }

  async saveResponse(response: StoredResponse, bounds: StoredResponseBounds): Promise<void> {
    this.#responses.save(response, bounds);
  }

  async getResponse(id: string): Promise<StoredResponse | undefined> {
    return this.#responses.get(id);
  }

  async getResponseItem(id: string, owner: string): Promise<JsonValue | undefined> {
    return this.#responses.item(id, owner);
  }

  async deleteResponse(id: string, owner: string): Promise<boolean> {
    return this.#responses.delete(id, owner);
  }

  async pruneResponses(retentionMs: number, limit: number): Promise<number> {
    return this.#responses.prune(retentionMs, limit);
  }

  async heartbeat(nodeId: string, url: string): Promise<WorkerRecord> {
    const heartbeatAt = this.#now();
    this.#workers.set(nodeId, { url, heartbeatAt });
    return { id: nodeId, url, heartbeatAt, alive: true };
  }

  async workers(): Promise<WorkerRecord[]> {
    return [...this.#workers].map(([id, w]) => ({ id, ...w, alive: this.#alive(id) }));
  }

  async removeWorker(nodeId: string): Promise<void> {
    this.#workers.delete(nodeId);
  }

  async close(): Promise<void> {}

  #alive(nodeId: string): boolean {
    const worker = this.#workers.get(nodeId);
    return worker !== undefined && worker.heartbeatAt > this.#now() - this.#leaseTtlMs;
  }

  #fenced(lease: ContainerLease): StoredContainer {
    const record = this.#containers.get(lease.containerId);
    const refused = fencingError(record, lease);
    if (refused || !record) throw refused;
    return record;
  }

  #leasedExecution(lease: ContainerLease, executionId: string): StoredExecution {
    this.#fenced(lease);
    const record = this.#executions.get(executionId);
    if (!record || record.containerId !== lease.containerId) throw executionNotFound(executionId);
    return record;
  }

  #end(record: StoredContainer, reason: ContainerEndReason): StoredContainer {
    const ended: StoredContainer = { ...record, status: "ended", endedAt: this.#now(), endReason: reason };
    this.#containers.set(record.id, ended);
    return { ...ended };
  }
}

function parse(json: string): JsonValue {
  return JSON.parse(json) as JsonValue;
}
