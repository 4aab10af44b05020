import type { Engine } from "../../engine/engine.js";
import { EarliestTimer } from "../../sandbox/earliest-timer.js";

/**
 * Under a sandbox shortage, an idle container unused this long gives its sandbox up at once instead of after
 * the idle eviction's minute. The store keeps the container and its next use rebuilds it by replay (~60 ms
 * more for a short history, BENCHMARKS.md "Idle containers and eviction"); the execution waiting gets the
 * sandbox reset (~0.1 s of CPU) instead of a new start (~1.3 s with the tier-up its first runs pay). 100 ms:
 * longer than a client's turnaround between executions it chains in one container (a loopback or LAN round
 * trip), far shorter than a model's next turn; a container still in use is never taken (busy: running or
 * paused). `bench:load`, 200 one-off executions on 2 cores, one burst each (scratch, alternated pairs): 1 s
 * 7.7-8.5 per s with 18 starts; 250 ms 9.0-9.4; 20 ms 9.9-10.1 with 12 starts (BENCHMARKS.md, stop 32).
 */
export const DEFAULT_SHORTAGE_EVICT_IDLE_MS = 100;

/**
 * A durable node's eviction under sandbox shortage: each time an execution waits for a sandbox, the least
 * recently used idle containers this node holds of the owners whose executions wait, idle at least
 * `minIdleMs`, are released (their sandboxes recycled by the pool), as many as the waiters that nothing
 * starting or resetting will serve. When none is idle long enough yet, it looks again when the first will
 * be, while executions still wait. Another key's containers are never taken (as under the per-key quota).
 */
export class ShortageEviction {
  readonly #lookAgain = new EarliestTimer(() => this.relieve());
  #stopped = false;
  readonly #unsubscribe: Array<() => void>;

  constructor(
    private readonly engine: Engine,
    private readonly minIdleMs: number,
    /** Releases the container when this node holds it (its lease), and says whether it did. */
    private readonly release: (containerId: string) => boolean,
  ) {
    // Executions start waiting, or a container turns idle while they wait: either may call for a release.
    this.#unsubscribe = [
      engine.onSandboxShortage(() => this.relieve()),
      engine.containers.onContainerIdle(() => this.relieve()),
    ];
  }

  /** Releases what the waiting executions need, or looks again when an idle container will qualify. */
  relieve(now = Date.now()): void {
    if (this.#stopped) return;
    const pool = this.engine.stats().pool;
    let needed = pool.waiting - pool.resetting - pool.starting;
    if (needed <= 0) return;
    // Only the waiting executions' owners give containers up, as under the per-key quota: one key's burst
    // never makes another key's next use pay a replay.
    const idle: Array<{ id: string; owner: string | undefined; lastUsed: number }> = [];
    const waitingOwners = new Set<string | undefined>();
    for (const id of this.engine.containers.ids()) {
      const info = this.engine.containers.inspect(id);
      if (!info) continue;
      if (info.waitingForSandbox) waitingOwners.add(info.owner);
      else if (!info.busy) idle.push({ id, owner: info.owner, lastUsed: info.lastUsed });
    }
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const { id, owner, lastUsed } of idle) {
      if (!waitingOwners.has(owner)) continue;
      const dueInMs = lastUsed + this.minIdleMs - now;
      if (dueInMs > 0) {
        this.#lookAgain.in(dueInMs);
        return;
      }
      if (this.release(id)) needed--;
      if (needed === 0) return;
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#lookAgain.clear();
  }
}
