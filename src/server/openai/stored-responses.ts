import type { JsonValue } from "../../protocol/json-schema.js";
import type { Store, StoredResponse } from "../store/store.js";
import { responseItems } from "../store/store-values.js";
import { type InputItem, outputAsInput } from "./input-items.js";
import { openaiNotFound } from "./openai-errors.js";
import type { ResponsesRequest } from "./request-validation.js";
import type { ResponseObject } from "./responses-types.js";

/** Responses one API key keeps in memory (without a durable store) at most; past it, its oldest are forgotten. */
export const DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY = 1_000;
/** Bytes (as JSON) of the responses one API key keeps in memory at most; past it, its oldest are forgotten. */
export const DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY = 64 * 1_048_576;

/** Where `store: true` responses live: the durable store's tables, or this process's memory. */
export interface ResponseRecords {
  save(response: StoredResponse): Promise<void>;
  get(id: string): Promise<StoredResponse | undefined>;
  /** The item with this id (an output item, or an input item the client gave an id) and its response's owner. */
  item(id: string): Promise<{ owner: string; item: JsonValue } | undefined>;
}

/** A stored response's output items. */
export function outputOf(response: StoredResponse): JsonValue[] {
  const value = response.response;
  const output = value !== null && typeof value === "object" && !Array.isArray(value) ? value.output : undefined;
  return Array.isArray(output) ? output : [];
}

/** The durable store's responses (SQLite, PostgreSQL, or the memory store a test opens). */
export function storeRecords(store: Store): ResponseRecords {
  return {
    save: (response) => store.saveResponse(response),
    get: (id) => store.getResponse(id),
    item: (id) => store.getResponseItem(id),
  };
}

interface Held {
  records: Map<string, { response: StoredResponse; bytes: number }>;
  bytes: number;
}

/** Responses in this process's memory, per API key, bounded by count and bytes (oldest forgotten first). */
export function memoryRecords(
  maxPerKey = DEFAULT_MAX_MEMORY_RESPONSES_PER_KEY,
  maxBytesPerKey = DEFAULT_MAX_MEMORY_RESPONSE_BYTES_PER_KEY,
): ResponseRecords {
  const byOwner = new Map<string, Held>();
  const owners = new Map<string, string>();
  const items = new Map<string, { owner: string; item: JsonValue; response: string }>();
  const forget = (held: Held, id: string) => {
    const entry = held.records.get(id);
    if (!entry) return;
    held.records.delete(id);
    held.bytes -= entry.bytes;
    owners.delete(id);
    for (const [itemId, item] of items) if (item.response === id) items.delete(itemId);
  };
  return {
    async save(response) {
      const bytes = JSON.stringify(response).length;
      const held = byOwner.get(response.owner) ?? { records: new Map(), bytes: 0 };
      byOwner.set(response.owner, held);
      held.records.set(response.id, { response, bytes });
      held.bytes += bytes;
      owners.set(response.id, response.owner);
      for (const [id, item] of responseItems(response)) {
        items.set(id, { owner: response.owner, item, response: response.id });
      }
      for (const id of held.records.keys()) {
        if (held.records.size <= maxPerKey && held.bytes <= maxBytesPerKey) break;
        if (id !== response.id) forget(held, id);
      }
    },
    async get(id) {
      const owner = owners.get(id);
      return owner === undefined ? undefined : byOwner.get(owner)?.records.get(id)?.response;
    },
    async item(id) {
      const found = items.get(id);
      return found && { owner: found.owner, item: found.item };
    },
  };
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
    const previous = await records.get(request.previousResponseId);
    if (!previous || previous.owner !== owner) {
      throw openaiNotFound(
        `Previous response with id '${request.previousResponseId}' not found.`,
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
    const found = await records.item(item.id);
    if (!found || found.owner !== owner) {
      throw openaiNotFound(`Item with id '${item.id}' not found.`, `input[${index}].id`, "item_not_found");
    }
    conversation.push(outputAsInput(found.item));
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
    createdAt: response.created_at * 1000,
    conversation: conversation as unknown as JsonValue[],
    response: response as unknown as JsonValue,
  };
}
