import { setImmediate as nextTurn } from "node:timers/promises";
import type { JsonValue } from "../../protocol/json-schema.js";
import { MemoryStore } from "../store/memory-store.js";
import {
  DEFAULT_MAX_STORED_RESPONSE_BYTES_PER_KEY,
  DEFAULT_MAX_STORED_RESPONSES_PER_KEY,
  DEFAULT_STORED_RESPONSE_RETENTION_MS,
  DEFAULT_STORED_RESPONSE_SWEEP_BATCH,
  type Store,
  type StoredResponse,
  type StoredResponseBounds,
} from "../store/store.js";
import { type InputItem, outputAsInput } from "./input-items.js";
import { openaiNotFound } from "./openai-errors.js";
import type { ResponsesRequest } from "./request-validation.js";
import type { ResponseObject } from "./responses-types.js";

/** Responses one API key keeps in this process's memory (no durable store) at most; past it, its oldest are forgotten. */
export const DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY = 1_000;
/** Bytes of the responses one API key keeps in this process's memory at most; past it, its oldest are forgotten. */
export const DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY = 64 * 1_048_576;

/** The bounds on each API key's `store: true` responses (`server.*` in the config, options embedded). */
export interface StoredResponseLimits {
  /** Default `DEFAULT_MAX_STORED_RESPONSES_PER_KEY` (10,000) with a durable store, `DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY` (1,000) in memory. */
  maxStoredResponsesPerKey?: number;
  /** Default `DEFAULT_MAX_STORED_RESPONSE_BYTES_PER_KEY` (256 MiB) with a durable store, `DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY` (64 MiB) in memory. */
  maxStoredResponseBytesPerKey?: number;
  /** Default `DEFAULT_STORED_RESPONSE_RETENTION_MS` (30 days). */
  storedResponseRetentionMs?: number;
  /** Expired responses the retention sweep forgets per statement. Default `DEFAULT_STORED_RESPONSE_SWEEP_BATCH` (100). */
  storedResponseSweepBatch?: number;
}

/** The limits, resolved once: a durable store's defaults are larger (disk), memory's smaller (this process's heap). */
export function resolveResponseBounds(limits: StoredResponseLimits, durable: boolean): StoredResponseBounds {
  return {
    maxResponsesPerKey:
      limits.maxStoredResponsesPerKey ??
      (durable ? DEFAULT_MAX_STORED_RESPONSES_PER_KEY : DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY),
    maxResponseBytesPerKey:
      limits.maxStoredResponseBytesPerKey ??
      (durable ? DEFAULT_MAX_STORED_RESPONSE_BYTES_PER_KEY : DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY),
    responseRetentionMs: limits.storedResponseRetentionMs ?? DEFAULT_STORED_RESPONSE_RETENTION_MS,
  };
}

/** Where `store: true` responses live (the durable store's tables, or a memory store), within their bounds. */
export interface ResponseRecords {
  readonly bounds: StoredResponseBounds;
  /** Keeps it, forgetting the key's oldest past the bounds. */
  save(response: StoredResponse): Promise<void>;
  /** The key's response; another key's is undefined, as an unknown one. */
  get(id: string, owner: string): Promise<StoredResponse | undefined>;
  /** The key's item with this id (an output item, or an input item the client gave an id). */
  item(id: string, owner: string): Promise<JsonValue | undefined>;
  /** Forgets the key's response; false when it has none of that id. */
  delete(id: string, owner: string): Promise<boolean>;
  /**
   * Forgets every key's responses past the retention (the periodic sweep), in batches, the oldest first,
   * yielding to the event loop between them; returns how many. A call while a sweep runs joins it.
   */
  prune(): Promise<number>;
}

/** A stored response's output items. */
export function outputOf(response: StoredResponse): JsonValue[] {
  const value = response.response;
  const output = value !== null && typeof value === "object" && !Array.isArray(value) ? value.output : undefined;
  return Array.isArray(output) ? output : [];
}

/**
 * The records on the durable store (SQLite, PostgreSQL), or without one on a memory store of this process:
 * the same rules either way, the memory store's bounds smaller.
 */
export function responseRecords(store: Store | undefined, limits: StoredResponseLimits = {}): ResponseRecords {
  const bounds = resolveResponseBounds(limits, store !== undefined);
  const target = store ?? new MemoryStore();
  const batch = Math.max(1, limits.storedResponseSweepBatch ?? DEFAULT_STORED_RESPONSE_SWEEP_BATCH);
  const sweep = async (): Promise<number> => {
    let forgotten = 0;
    for (;;) {
      const n = await target.pruneResponses(bounds.responseRetentionMs, batch);
      forgotten += n;
      if (n < batch) return forgotten;
      // A batch on SQLite held the event loop for its whole statement: requests and timers run before the next.
      await nextTurn();
    }
  };
  let sweeping: Promise<number> | undefined;
  return {
    bounds,
    save: (response) => target.saveResponse(response, bounds),
    async get(id, owner) {
      const found = await target.getResponse(id);
      return found?.owner === owner ? found : undefined;
    },
    item: (id, owner) => target.getResponseItem(id, owner),
    delete: (id, owner) => target.deleteResponse(id, owner),
    prune() {
      sweeping ??= sweep().finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    },
  };
}

/** What a 404 for a stored response adds to OpenAI's wording: why a response a client kept may be gone. */
export function whyNotFound(bounds: StoredResponseBounds): string {
  const days = Math.round((bounds.responseRetentionMs / 86_400_000) * 10) / 10;
  return (
    `Only store: true responses are kept, for ${days} days and at most ${bounds.maxResponsesPerKey} responses or ` +
    `${bounds.maxResponseBytesPerKey} bytes per API key (the oldest are removed first), until deleted.`
  );
}

/**
 * The conversation a request continues: the previous response's (its own conversation, then its output),
 * then the request's input, each `item_reference` replaced by the item it names. Another key's response
 * or item is reported exactly like an unknown one.
 */
export async function resolveConversation(
  request: ResponsesRequest,
  owner: string,
  records: ResponseRecords,
): Promise<InputItem[]> {
  const conversation: InputItem[] = [];
  if (request.previousResponseId !== undefined) {
    const previous = await records.get(request.previousResponseId, owner);
    if (!previous) {
      // A program paused in a pruned response can still be continued statelessly: its items carry it.
      throw openaiNotFound(
        `Previous response with id '${request.previousResponseId}' not found. ${whyNotFound(records.bounds)} ` +
          "A program paused in it can still be continued with store: false, sending its items back.",
        "previous_response_id",
        "previous_response_not_found",
      );
    }
    for (const item of [...previous.conversation, ...outputOf(previous)]) conversation.push(outputAsInput(item));
  }
  for (const [index, item] of request.input.entries()) {
    if (item.type !== "item_reference") {
      conversation.push(item);
      continue;
    }
    const found = await records.item(item.id, owner);
    if (found === undefined) {
      throw openaiNotFound(`Item with id '${item.id}' not found.`, `input[${index}].id`, "item_not_found");
    }
    conversation.push(outputAsInput(found));
  }
  return conversation;
}

/** What a `store: true` response leaves in the records. */
export function storedResponse(
  owner: string,
  conversation: readonly InputItem[],
  response: ResponseObject,
): StoredResponse {
  return {
    id: response.id,
    owner,
    // Milliseconds, not the response's seconds: a key's responses are pruned oldest first in this order.
    createdAt: Date.now(),
    conversation: conversation as unknown as JsonValue[],
    response: response as unknown as JsonValue,
  };
}
