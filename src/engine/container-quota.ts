/** A container counted against the quota, as the `ContainerManager` reports it. */
export interface OwnedContainer {
  id: string;
  owner: string;
  lastUsedAt: number;
  /** No turn held or waited for and no sandbox leased: ending it loses only its Python state. */
  idle: boolean;
}

/**
 * The per-owner container limits (the server's `ResourceOwners`, configured once): the manager asks it
 * whether `owner` may hold one more container beside `counted`, and throws its refusal.
 */
export interface ContainerQuota {
  /** The error refusing one more container of `owner` while `counted` are held; undefined to allow it. */
  refusal(owner: string, counted: readonly OwnedContainer[]): Error | undefined;
}

/**
 * While `quota` refuses `owner` one more container, ends the owner's own least recently used idle one
 * (never another owner's); throws the refusal once the owner has none idle left.
 */
export function makeRoom(
  owner: string,
  counted: () => OwnedContainer[],
  quota: ContainerQuota,
  end: (id: string) => void,
): void {
  for (;;) {
    const live = counted();
    const refusal = quota.refusal(owner, live);
    if (!refusal) return;
    const victim = live
      .filter((entry) => entry.owner === owner && entry.idle)
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt)[0];
    if (!victim) throw refusal;
    end(victim.id);
  }
}
