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
  /** Its own copy of each of its items with an id, `id → JSON`: they go when it does. */
  readonly items: ReadonlyMap<string, string>;
}

/**
 * The memory store's `/v1/responses` records, held as JSON text (copied in and out), with the SQL backends'
 * rules: per key, oldest forgotten first past the bounds on each save; each response keeps its own copy of
 * its items, an item found as its key's newest copy.
 */
export class MemoryResponses {
  readonly #responses = new Map<string, Kept>();
  /** Per owner, its responses' ids. */
  readonly #byOwner = new Map<string, Set<string>>();
  /** Per owner and item id, the responses holding a copy. */
  readonly #holders = new Map<string, Set<string>>();

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
      items: new Map(encoded.items),
    });
    for (const [id] of encoded.items) {
      const holders = this.#holders.get(holderKey(response.owner, id)) ?? new Set<string>();
      this.#holders.set(holderKey(response.owner, id), holders.add(response.id));
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

  /** The owner's newest copy (by `createdAt`, then response id) of the item. */
  item(id: string, owner: string): JsonValue | undefined {
    let newest: { id: string; kept: Kept } | undefined;
    for (const responseId of this.#holders.get(holderKey(owner, id)) ?? []) {
      const kept = this.#responses.get(responseId);
      if (!kept) continue;
      if (
        !newest ||
        kept.createdAt > newest.kept.createdAt ||
        (kept.createdAt === newest.kept.createdAt && responseId > newest.id)
      ) {
        newest = { id: responseId, kept };
      }
    }
    const text = newest?.kept.items.get(id);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  }

  delete(id: string, owner: string): boolean {
    if (this.#responses.get(id)?.owner !== owner) return false;
    this.#forget(id);
    return true;
  }

  /** Forgets at most `limit` of every key's responses older than the retention, the oldest first. */
  prune(retentionMs: number, limit: number): number {
    const cutoff = this.now() - retentionMs;
    const old = [...this.#responses]
      .filter(([, kept]) => kept.createdAt < cutoff)
      .sort(([, a], [, b]) => a.createdAt - b.createdAt)
      .slice(0, Math.max(0, limit))
      .map(([id]) => id);
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
    for (const itemId of kept.items.keys()) {
      const holders = this.#holders.get(holderKey(kept.owner, itemId));
      holders?.delete(id);
      if (holders?.size === 0) this.#holders.delete(holderKey(kept.owner, itemId));
    }
  }
}

function holderKey(owner: string, id: string): string {
  return `${owner}\u0000${id}`;
}
