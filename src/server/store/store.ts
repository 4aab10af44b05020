import type { ContainerEndReason, ContainerRecord } from "../../engine/container-registry.js";
import type { JsonValue } from "../../protocol/json-schema.js";
import { DEFAULT_MAX_TOOL_RESULT_BYTES } from "../../protocol/limits.js";

/**
 * One recorded value (code, a tool's input or result, an execution's output) as JSON, at most this many
 * bytes: the tool result cap, so every result the engine lets through can be recorded, and a replay never
 * has to hold more than that per call. Past it, `recorded_value_too_large`.
 */
export const DEFAULT_MAX_RECORDED_VALUE_BYTES = DEFAULT_MAX_TOOL_RESULT_BYTES;
/**
 * A node whose heartbeat is older than this has lost its leases: another node may claim its containers.
 * Three missed beats at a 5 s interval, so one slow beat (a GC pause, a busy database) does not move them.
 */
export const DEFAULT_LEASE_TTL_MS = 15_000;
/** Expired containers one sweep ends at most: a sweep is one short transaction, and every node runs one. */
export const DEFAULT_SWEEP_LIMIT = 100;

export type ContainerStatus = "live" | "ended";

/**
 * A container as the store keeps it: the engine's `ContainerRecord` (same names, so the memory store can
 * stand in for `InMemoryContainerRegistry`) plus what several nodes need. Times are milliseconds since the
 * epoch, read from the store's clock (the database's, on SQL backends), never a node's.
 */
export interface StoredContainer extends Readonly<ContainerRecord> {
  readonly status: ContainerStatus;
  /** The fencing token: every claim adds one, and every write of the container's work names the one it holds. */
  readonly epoch: number;
  /** Seeds Python's `random` in every sandbox that runs (or replays) this container. */
  readonly seed: number;
  /** The node holding the lease (`WorkerRecord.id`); undefined when nobody does. */
  readonly ownerNode: string | undefined;
}

/** What a node holds while it works on a container: every write of that work carries it. */
export interface ContainerLease {
  readonly containerId: string;
  readonly epoch: number;
}

export interface NewContainer {
  readonly id: string;
  readonly owner: string | undefined;
  readonly origin?: string;
  readonly seed: number;
  /** The creating node: it holds the first lease (epoch 1). */
  readonly ownerNode: string;
  /** `expiresAt` is the store's now plus this. */
  readonly idleTimeoutMs: number;
}

export type ExecutionStatus = "running" | "paused" | "done" | "failed";
export type FinishedStatus = Extract<ExecutionStatus, "done" | "failed">;

export interface StoredExecution {
  readonly id: string;
  readonly containerId: string;
  /** 1, 2, ... within its container, in the order they were started: the replay order. */
  readonly ordinal: number;
  readonly code: string;
  readonly language: string;
  /** What else the API needs to run it again (its tools, limits, result mode, wire ids): the API's own JSON. */
  readonly options: JsonValue;
  readonly status: ExecutionStatus;
  /** What the execution produced (its `ExecutionResult`, or what the API answered), once finished. */
  readonly result: JsonValue | undefined;
  /** `ownerOf(apiKey)` of the key that started it. */
  readonly apiKeyOwner: string | undefined;
  readonly startedAt: number;
  readonly finishedAt: number | undefined;
}

export interface NewExecution {
  readonly id: string;
  readonly code: string;
  readonly language: string;
  /** Default `{}`. */
  readonly options?: JsonValue;
  readonly apiKeyOwner: string | undefined;
}

export type CallOutcome = "ok" | "error" | "cancelled";

/** One tool call of an execution, and its outcome once there is one. */
export interface JournalCall {
  readonly executionId: string;
  /** 1, 2, ... in the order the guest made the calls: replay checks each call against this order. */
  readonly n: number;
  /** The guest's own id for the call (counts up in the sandbox): the idempotency key. */
  readonly guestCallId: number;
  /** The id the wire shows (`toolu_…`): a resent `tool_result` names it. */
  readonly callId: string;
  readonly tool: string;
  /** SHA-256 (hex) of the input's canonical JSON: replay compares it to detect divergence cheaply. */
  readonly argsSha256: string;
  readonly input: JsonValue;
  readonly outcome: CallOutcome | undefined;
  /** The result (`ok`) or the error (`error`, `cancelled`). */
  readonly value: JsonValue | undefined;
  /** 1, 2, ... in the order outcomes were recorded within the execution: replay delivers them in it. */
  readonly completedOrder: number | undefined;
  readonly calledAt: number;
  readonly completedAt: number | undefined;
}

export interface NewCall {
  readonly guestCallId: number;
  readonly callId: string;
  readonly tool: string;
  readonly input: JsonValue;
}

export interface CallResult {
  readonly outcome: CallOutcome;
  readonly value: JsonValue;
}

export interface ExecutionFinish {
  readonly status: FinishedStatus;
  readonly result: JsonValue;
}

/** An execution with its journal: what a replay needs. */
export interface ExecutionHistory {
  readonly execution: StoredExecution;
  readonly calls: readonly JournalCall[];
}

/** A `/v1/responses` response kept with `store: true`, for `previous_response_id` and `item_reference`. */
export interface StoredResponse {
  readonly id: string;
  /** `ownerOf(apiKey)`: another key's response is not found. */
  readonly owner: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** The conversation the response continued (input items, earlier responses' included). */
  readonly conversation: readonly JsonValue[];
  /** The response object as sent, its `output` included. */
  readonly response: JsonValue;
}

/**
 * Stored responses one API key keeps at most: past it, saving another forgets the key's oldest. Ten thousand
 * is a busy agent's month (one store: true turn every five minutes, around the clock, is 8,640) and, at the
 * few KiB a typical turn takes, tens of MiB; the byte bound below is what binds for long conversations.
 */
export const DEFAULT_MAX_STORED_RESPONSES_PER_KEY = 10_000;
/**
 * Bytes one API key's stored responses take at most (their conversation, response and item JSON, UTF-8):
 * past it, saving another forgets the key's oldest. Each response carries its whole conversation, so a long
 * conversation costs the sum of its prefixes: 100 turns growing by 10 KiB each is ~50 MiB. 256 MiB holds
 * several such conversations and still bounds what one hostile key can make the database hold.
 */
export const DEFAULT_MAX_STORED_RESPONSE_BYTES_PER_KEY = 256 * 1_048_576;
/** A stored response is forgotten this long after it was created: OpenAI keeps them 30 days. */
export const DEFAULT_STORED_RESPONSE_RETENTION_MS = 30 * 24 * 3_600_000;
/**
 * Expired responses the retention sweep forgets per statement, oldest first, yielding to the event loop
 * between statements: on SQLite (synchronous) a statement holds the server's event loop while it runs,
 * and every key's responses may expire at once (10,000 per key). Measured on SQLite (2 KiB responses with
 * three items each, a loaded 2-core machine), one statement took 7-28 ms at 100 rows, 25-71 ms at 500,
 * 215-314 ms at 5,000: one statement for 4 keys' 40,000 would hold it about two seconds.
 */
export const DEFAULT_STORED_RESPONSE_SWEEP_BATCH = 100;

/** What one API key's stored responses may take; a key's oldest are forgotten first past any of them. */
export interface StoredResponseBounds {
  readonly maxResponsesPerKey: number;
  readonly maxResponseBytesPerKey: number;
  readonly responseRetentionMs: number;
}

export interface WorkerRecord {
  readonly id: string;
  /** Where other nodes forward requests for containers this node owns. */
  readonly url: string;
  readonly heartbeatAt: number;
  /** Heartbeat within the lease TTL, by the store's clock. */
  readonly alive: boolean;
}

export interface EndedContainerBounds {
  readonly maxEndedContainers: number;
  readonly endedContainerRetentionMs: number;
}

export interface StoreOptions {
  /** Default `DEFAULT_MAX_RECORDED_VALUE_BYTES`. */
  maxRecordedValueBytes?: number;
  /** Default `DEFAULT_LEASE_TTL_MS`. */
  leaseTtlMs?: number;
}

/** Every backend's limits, each resolved here once. */
export function resolveStoreOptions(options: StoreOptions): Required<StoreOptions> {
  return {
    maxRecordedValueBytes: options.maxRecordedValueBytes ?? DEFAULT_MAX_RECORDED_VALUE_BYTES,
    leaseTtlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
  };
}

/**
 * Where the durable server keeps containers, executions, the journal of tool calls and the nodes. Every
 * write of a container's work takes a `ContainerLease` and fails with `container_lease_lost` (nothing
 * written) when the container's epoch moved, or `container_expired` when it ended; the database being
 * down or refusing is `store_unavailable`. Writes that a client may repeat are idempotent: the same write
 * again returns what the first one recorded, a different one is `store_conflict`.
 */
export interface Store {
  readonly kind: "memory" | "sqlite" | "postgres";

  /** A new live container, leased to `ownerNode` at epoch 1. */
  createContainer(container: NewContainer): Promise<StoredContainer>;
  getContainer(id: string): Promise<StoredContainer | undefined>;
  /** Live containers, optionally only those `ownerNode` holds. */
  liveContainers(ownerNode?: string): Promise<StoredContainer[]>;
  /**
   * Takes the lease (epoch + 1) if the epoch is still `seenEpoch` and the container is live and unowned,
   * owned by `node`, or owned by a node whose heartbeat is older than the lease TTL. Undefined when not
   * claimed: another claim won, or the owner is alive, or the container ended or is unknown.
   */
  claimContainer(id: string, node: string, seenEpoch: number): Promise<StoredContainer | undefined>;
  /** Marks the container used now (`expiresAt` = now + `idleTimeoutMs`). Fenced. */
  touchContainer(lease: ContainerLease, idleTimeoutMs: number): Promise<StoredContainer>;
  /** Ends it (a tombstone stays); fenced when `lease` is given. False when unknown or already ended. */
  endContainer(id: string, reason: ContainerEndReason, lease?: ContainerLease): Promise<boolean>;
  /** Forgets the container, its executions and their journals. */
  deleteContainer(id: string): Promise<void>;
  /**
   * Ends up to `limit` live containers whose `expiresAt` passed (`expired`) and returns them. Sweepers on
   * several nodes at once never end, or return, the same container twice.
   */
  sweepExpired(limit?: number): Promise<StoredContainer[]>;
  /** Forgets tombstones past the count and age bounds (oldest first); returns how many. */
  pruneEnded(bounds: EndedContainerBounds): Promise<number>;

  /** A new `running` execution, the container's next ordinal. Fenced. */
  createExecution(lease: ContainerLease, execution: NewExecution): Promise<StoredExecution>;
  getExecution(id: string): Promise<StoredExecution | undefined>;
  /** `running` ↔ `paused`. Fenced; `store_conflict` once finished. */
  setExecutionStatus(lease: ContainerLease, id: string, status: "running" | "paused"): Promise<StoredExecution>;
  /** Records the end. Fenced; idempotent (the same finish again returns the first), a different one conflicts. */
  finishExecution(lease: ContainerLease, id: string, finish: ExecutionFinish): Promise<StoredExecution>;
  /** The container's executions in ordinal order, each with its journal: the replay input. */
  containerHistory(containerId: string): Promise<ExecutionHistory[]>;

  /** Journals a call before it is dispatched. Fenced; idempotent by `(executionId, guestCallId)`. */
  appendCall(lease: ContainerLease, executionId: string, call: NewCall): Promise<JournalCall>;
  /** Journals a call's outcome before the sandbox sees it. Fenced; idempotent, a different outcome conflicts. */
  recordCallResult(
    lease: ContainerLease,
    executionId: string,
    guestCallId: number,
    result: CallResult,
  ): Promise<JournalCall>;
  /** The execution's calls in guest order. */
  journal(executionId: string): Promise<JournalCall[]>;

  /**
   * Keeps a `/v1/responses` response, and each of its items that has an id (for `item_reference`), then
   * forgets the owner's oldest other responses (by `createdAt`, then id) past `bounds`: older than the
   * retention, beyond the count, or beyond the bytes with this one counted. A conversation or response past
   * `maxRecordedValueBytes` as JSON is `recorded_value_too_large`; one that alone is over the key's bytes,
   * `response_store_quota_exceeded`; nothing is written for either.
   */
  saveResponse(response: StoredResponse, bounds: StoredResponseBounds): Promise<void>;
  getResponse(id: string): Promise<StoredResponse | undefined>;
  /**
   * The owner's item of this id, as its newest kept response holding it has it. Each response keeps its own
   * copy of its items, so forgetting one response never takes an item from another; another key's item of
   * the same id is not found.
   */
  getResponseItem(id: string, owner: string): Promise<JsonValue | undefined>;
  /** Forgets the owner's response and its copies of its items. False when the owner has no such response. */
  deleteResponse(id: string, owner: string): Promise<boolean>;
  /**
   * Forgets at most `limit` of every key's responses created longer than `retentionMs` ago (the store's
   * clock), the oldest first; returns how many. One statement: the sweep calls it until it forgets fewer.
   */
  pruneResponses(retentionMs: number, limit: number): Promise<number>;

  /** Registers the node or renews its heartbeat (the store's clock). */
  heartbeat(nodeId: string, url: string): Promise<WorkerRecord>;
  workers(): Promise<WorkerRecord[]>;
  /** A node leaving cleanly: its containers may be claimed at once. */
  removeWorker(nodeId: string): Promise<void>;

  close(): Promise<void>;
}
