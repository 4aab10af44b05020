import type Anthropic from "@anthropic-ai/sdk";
import { CODE_EXECUTION_TOOL_NAME } from "../../agent/code-execution-tool.js";
import { codeOnlyToolMessage, unknownToolMessage } from "../../agent/refused-tool-call.js";
import type { ToolDefinition } from "../../protocol/tool.js";
import { normalizeCallers } from "../../tools/allowed-callers.js";
import type { ValidatedRequest } from "./request-validation.js";

/**
 * A direct call of the upstream model that never reaches the client: the tool is code-only in this
 * request (`allowed_callers` without `direct`), or no tool of the request has the name. The upstream
 * gets an `is_error` tool_result with `reason`, and the loop goes on.
 */
export interface RefusedCall {
  id: string;
  name: string;
  input: unknown;
  reason: string;
}

/**
 * Refused calls of one upstream turn, in the blocks the loop keeps for the upstream only (never sent to
 * the client): the turn's refused `tool_use`s and their error `tool_result`s.
 */
export interface RefusedCallsBlock {
  type: "ptc_refused_calls";
  calls: readonly RefusedCall[];
}

/** Why the upstream may not call `name` directly in this request, or undefined when it may. */
export function refusalReason(
  request: ValidatedRequest,
  serverTools: readonly ToolDefinition[],
  name: string,
): string | undefined {
  if (name === CODE_EXECUTION_TOOL_NAME && request.codeTool !== undefined) return undefined;
  const tool = request.tools.find((candidate) => candidate.name === name);
  if (tool?.direct) return undefined;
  if (tool?.fromCode) return codeOnlyToolMessage(name);
  // Server tools are reachable from code only (the upstream never sees them as tools of their own).
  const server = request.codeTool === undefined ? undefined : serverTools.find((candidate) => candidate.name === name);
  if (server && normalizeCallers(server.allowedCallers).has("code_execution")) return codeOnlyToolMessage(name);
  return unknownToolMessage(name, "request");
}

/** The refused calls as the upstream sees them: its tool_use blocks, then their error results. */
export function refusedCallBlocks(calls: readonly RefusedCall[]): {
  uses: Anthropic.ToolUseBlockParam[];
  results: Anthropic.ToolResultBlockParam[];
} {
  return {
    uses: calls.map((call) => ({ type: "tool_use", id: call.id, name: call.name, input: call.input })),
    results: calls.map((call) => ({ type: "tool_result", tool_use_id: call.id, content: call.reason, is_error: true })),
  };
}

/** The refused calls kept beside a client-visible call id (see `RefusedCallStore`). */
export type RefusedCallLookup = (id: string) => readonly RefusedCall[] | undefined;

/** The refused calls as conversation entries: each tool_use in the assistant's turn, each result in the user's. */
export function refusedCallEntries(
  calls: readonly RefusedCall[],
): Array<{ role: "assistant" | "user"; block: Anthropic.ContentBlockParam }> {
  const { uses, results } = refusedCallBlocks(calls);
  return [
    ...uses.map((block) => ({ role: "assistant" as const, block })),
    ...results.map((block) => ({ role: "user" as const, block })),
  ];
}

/** How long refused calls are kept for the requests that replay their turn; past it they drop out of the history. */
export const REFUSED_CALLS_TTL_MS = 60 * 60 * 1000;
/**
 * Per API key, so that no key's refusals ever push out another's (the keys are the server's configured
 * few, so the whole store is bounded by keys × these).
 */
const MAX_RECORDS_PER_KEY = 1_000;
const MAX_BYTES_PER_KEY = 4 * 1024 * 1024;

interface StoredRefusals {
  owner: string;
  keys: string[];
  calls: readonly RefusedCall[];
  bytes: number;
  lastUsed: number;
}

/**
 * Refused calls of a turn that also had calls for the client (direct `tool_use`s, a paused script): that
 * response ends with `stop_reason: "tool_use"`, so the refusals' error results can only reach the upstream
 * with the client's answers. They are kept here under the ids of that turn's client-visible calls
 * (`tool_use` / `server_tool_use`), per API key, and put back beside them whenever a later request's
 * history holds one of those ids. Bounded in count, bytes and time; what expires drops out of the history
 * as a pair (call and result), which the upstream accepts.
 */
export class RefusedCallStore {
  readonly #byKey = new Map<string, StoredRefusals>();
  /** Records in least recently used order (a Set keeps insertion order; a use re-inserts). */
  readonly #records = new Set<StoredRefusals>();
  /** Records and bytes each key holds. */
  readonly #held = new Map<string, { records: number; bytes: number }>();

  constructor(readonly ttlMs = REFUSED_CALLS_TTL_MS) {}

  remember(owner: string, anchorIds: readonly string[], calls: readonly RefusedCall[], now = Date.now()): void {
    if (anchorIds.length === 0 || calls.length === 0) return;
    const bytes = calls.reduce((sum, call) => sum + JSON.stringify(call).length, 0);
    if (bytes > MAX_BYTES_PER_KEY) return;
    const record: StoredRefusals = { owner, keys: anchorIds.map((id) => key(owner, id)), calls, bytes, lastUsed: now };
    for (const recordKey of record.keys) {
      const previous = this.#byKey.get(recordKey);
      if (previous) this.#drop(previous);
      this.#byKey.set(recordKey, record);
    }
    this.#records.add(record);
    const held = this.#held.get(owner) ?? { records: 0, bytes: 0 };
    held.records++;
    held.bytes += bytes;
    this.#held.set(owner, held);
    this.#prune(owner, now);
  }

  /** The refused calls kept beside the client-visible call `id` of `owner`, if any. */
  lookup(owner: string, id: string, now = Date.now()): readonly RefusedCall[] | undefined {
    const record = this.#byKey.get(key(owner, id));
    if (!record || record.owner !== owner) return undefined;
    if (now - record.lastUsed > this.ttlMs) {
      this.#drop(record);
      return undefined;
    }
    record.lastUsed = now;
    this.#records.delete(record);
    this.#records.add(record);
    return record.calls;
  }

  get size(): number {
    return this.#records.size;
  }

  /** Drops what expired, then `owner`'s own least recently used records while it holds more than its share. */
  #prune(owner: string, now: number): void {
    for (const record of this.#records) {
      const held = this.#held.get(owner);
      const over = held !== undefined && (held.records > MAX_RECORDS_PER_KEY || held.bytes > MAX_BYTES_PER_KEY);
      if (now - record.lastUsed > this.ttlMs || (over && record.owner === owner)) this.#drop(record);
      else if (!over) break;
    }
  }

  #drop(record: StoredRefusals): void {
    if (!this.#records.delete(record)) return;
    const held = this.#held.get(record.owner);
    if (held) {
      held.records--;
      held.bytes -= record.bytes;
      if (held.records === 0) this.#held.delete(record.owner);
    }
    for (const recordKey of record.keys) if (this.#byKey.get(recordKey) === record) this.#byKey.delete(recordKey);
  }
}

function key(owner: string, id: string): string {
  return `${owner}\u0000${id}`;
}
