import type { JsonValue } from "../../protocol/json-schema.js";
import { encodeResponse, responsesToForget } from "./response-encoding.js";
import type { StoredResponse, StoredResponseBounds } from "./store.js";
import { conflict } from "./store-values.js";

interface Kept {
  readonly owner: string;
  readonly createdAt: number;
  readonly bytes: number;
  readonly conversation: string;
  readonly response: string;
  /** Ids of the items saved with it: the ones still pointing at it go when it does. */
  readonly items: readonly string[];
}

/**
 * The memory store's `/v1/responses` records, held as JSON text (copied in and out), with the SQL backends'
 * rules: per key, oldest forgotten first past the bounds on each save; an item seen again in the same key's
 * later response moves to it; a response's items go with it.
 */
export class MemoryResponses {
  readonly #responses = new Map<string, Kept>();
  /** Per owner, its responses' ids. */
  readonly #byOwner = new Map<string, Set<string>>();
  readonly #items = new Map<string, { response: string; item: string }>();

  constructor(
    private readonly now: () => number,
    private readonly maxRecordedBytes: number,
  ) {}

  save(response: StoredResponse, bounds: StoredResponseBounds): void {
    const encoded = encodeResponse(response, this.maxRecordedBytes, bounds);
    if (this.#responses.has(response.id)) throw conflict(`response ${response.id} already exists`);
    const owned = this.#byOwner.get(response.owner) ?? new Set<string>();
    this.#byOwner.set(response.owner, owned);
    this.#responses.set(response.id, {
      owner: response.owner,
      createdAt: response.createdAt,
      bytes: encoded.bytes,
      conversation: encoded.conversation,
      response: encoded.response,
      items: encoded.items.map(([id]) => id),
    });
    for (const [id, item] of encoded.items) {
      const existing = this.#items.get(id);
      if (existing && this.#responses.get(existing.response)?.owner !== response.owner) continue;
      this.#items.set(id, { response: response.id, item });
    }
    const others = [...owned].flatMap((id) => {
      const kept = this.#responses.get(id);
      return kept ? [{ id, createdAt: kept.createdAt, bytes: kept.bytes }] : [];
    });
    owned.add(response.id);
    const cutoff = this.now() - bounds.responseRetentionMs;
    for (const id of responsesToForget(others, encoded.bytes, cutoff, bounds)) this.#forget(id);
  }

  get(id: string): StoredResponse | undefined {
    const kept = this.#responses.get(id);
    return (
      kept && {
        id,
        owner: kept.owner,
        createdAt: kept.createdAt,
        conversation: JSON.parse(kept.conversation) as JsonValue[],
        response: JSON.parse(kept.response) as JsonValue,
      }
    );
  }

  item(id: string): { owner: string; item: JsonValue } | undefined {
    const found = this.#items.get(id);
    const owner = found && this.#responses.get(found.response)?.owner;
    return found && owner !== undefined ? { owner, item: JSON.parse(found.item) as JsonValue } : undefined;
  }

  delete(id: string, owner: string): boolean {
    if (this.#responses.get(id)?.owner !== owner) return false;
    this.#forget(id);
    return true;
  }

  prune(retentionMs: number): number {
    const cutoff = this.now() - retentionMs;
    const old = [...this.#responses].filter(([, kept]) => kept.createdAt < cutoff).map(([id]) => id);
    for (const id of old) this.#forget(id);
    return old.length;
  }

  #forget(id: string): void {
    const kept = this.#responses.get(id);
    if (!kept) return;
    this.#responses.delete(id);
    const owned = this.#byOwner.get(kept.owner);
    owned?.delete(id);
    if (owned?.size === 0) this.#byOwner.delete(kept.owner);
    for (const itemId of kept.items) if (this.#items.get(itemId)?.response === id) this.#items.delete(itemId);
  }
}
