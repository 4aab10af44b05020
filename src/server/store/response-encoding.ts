import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { StoredResponse, StoredResponseBounds } from "./store.js";
import { recordable, responseItems } from "./store-values.js";

/** A response as every backend writes it: its JSON texts, and the bytes they take, which its key's bound counts. */
export interface EncodedResponse {
  readonly conversation: string;
  readonly response: string;
  /** Its items with ids, `[id, JSON]`. */
  readonly items: ReadonlyArray<readonly [string, string]>;
  /** UTF-8 bytes of all the above: what keeping it costs. */
  readonly bytes: number;
}

/**
 * Checks and encodes a response to keep: each of its conversation and response within `maxRecordedBytes`
 * (`recorded_value_too_large`), and all of it within its key's bytes (`response_store_quota_exceeded`).
 */
export function encodeResponse(
  response: StoredResponse,
  maxRecordedBytes: number,
  bounds: StoredResponseBounds,
): EncodedResponse {
  const conversation = recordable(
    `the conversation of response ${response.id}`,
    [...response.conversation],
    maxRecordedBytes,
  );
  const body = recordable(`response ${response.id}`, response.response, maxRecordedBytes);
  const items = [...responseItems(response)].map(([id, item]) => [id, JSON.stringify(item)] as const);
  let bytes = Buffer.byteLength(conversation) + Buffer.byteLength(body);
  for (const [, item] of items) bytes += Buffer.byteLength(item);
  if (bytes > bounds.maxResponseBytesPerKey) {
    throw new PtcError(
      ErrorCode.ResponseStoreQuotaExceeded,
      `response ${response.id} takes ${bytes} bytes to store, over the ${bounds.maxResponseBytesPerKey} bytes one API key may keep (maxStoredResponseBytesPerKey): send it with store: false`,
      { bytes, limit: bounds.maxResponseBytesPerKey },
    );
  }
  return { conversation, response: body, items, bytes };
}

/** One of a key's kept responses, as pruning sees it. */
export interface KeptResponse {
  readonly id: string;
  readonly createdAt: number;
  readonly bytes: number;
}

/**
 * Which of a key's other responses to forget after saving one of `savedBytes`: walking them newest first
 * (`createdAt`, then id, descending), each older than `cutoff`, past the count (the saved one counted), or
 * past the bytes (the saved one's counted). The SQL backends run the same rule as one statement.
 */
export function responsesToForget(
  others: readonly KeptResponse[],
  savedBytes: number,
  cutoff: number,
  bounds: StoredResponseBounds,
): string[] {
  const newestFirst = [...others].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const forget: string[] = [];
  let total = savedBytes;
  newestFirst.forEach((kept, index) => {
    total += kept.bytes;
    const n = index + 2;
    if (kept.createdAt < cutoff || n > bounds.maxResponsesPerKey || total > bounds.maxResponseBytesPerKey) {
      forget.push(kept.id);
    }
  });
  return forget;
}
