import { createHash } from "node:crypto";

export type OwnedKind = "container" | "execution";

/**
 * Who created each container and execution. Every lookup goes through `owns`, and a resource owned by
 * another key is reported exactly like an unknown one, so ids cannot be probed across keys.
 */
export class ResourceOwners {
  readonly #owners = new Map<string, string>();

  /** Records `owner` for a new id; false when another owner already has it. */
  claim(kind: OwnedKind, id: string, owner: string): boolean {
    const key = `${kind}:${id}`;
    const current = this.#owners.get(key);
    if (current !== undefined) return current === owner;
    this.#owners.set(key, owner);
    return true;
  }

  owns(kind: OwnedKind, id: string, owner: string): boolean {
    return this.#owners.get(`${kind}:${id}`) === owner;
  }

  /** True when nobody has claimed the id yet (a client may name a new container). */
  isFree(kind: OwnedKind, id: string): boolean {
    return !this.#owners.has(`${kind}:${id}`);
  }

  release(kind: OwnedKind, id: string): void {
    this.#owners.delete(`${kind}:${id}`);
  }
}

/** Owners are stored as a hash of the API key, so the key itself is never kept beside the resources or logged. */
export function ownerOf(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("base64url").slice(0, 22);
}
