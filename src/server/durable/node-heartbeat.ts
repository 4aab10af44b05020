import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { Store } from "../store/store.js";

/**
 * A durable node's liveness in the store: its heartbeat (the worker row other nodes read to know it alive),
 * and whether it may still act on its leases. A node whose last successful beat is older than the lease TTL
 * may have lost its containers to another node, so it fails closed: it writes nothing new until it beats again.
 */
export class NodeHeartbeat {
  /** When the last heartbeat was written (this node's clock): past the lease TTL, the node holds nothing. */
  #lastBeat = 0;
  #beating: Promise<void> | undefined;
  #stopped = false;

  /**
   * `afterBeat` runs after each heartbeat written, within the beat (the node reconciles its leases with the
   * store's); `stale` when a beat failed and the node is past its TTL (it gives up all its leases).
   */
  constructor(
    private readonly store: Pick<Store, "heartbeat">,
    private readonly nodeId: string,
    private readonly leaseTtlMs: number,
    private readonly afterBeat: () => Promise<void>,
    private readonly stale: () => void,
  ) {}

  /** The node beat within the lease TTL: its leases still hold. */
  fresh(): boolean {
    return Date.now() - this.#lastBeat < this.leaseTtlMs;
  }

  /** Writes the heartbeat (with `url`, where other nodes forward to this one), then `afterBeat`. */
  async beat(url: string): Promise<void> {
    if (this.#stopped) return;
    const beat = (async () => {
      const startedAt = Date.now();
      await this.store.heartbeat(this.nodeId, url);
      this.#lastBeat = startedAt;
      await this.afterBeat();
    })();
    this.#beating = beat;
    try {
      await beat;
    } catch (error) {
      // Fail closed: past the lease TTL without a heartbeat, another node may hold these containers.
      if (!this.fresh()) this.stale();
      throw error;
    }
  }

  /**
   * Before new work: a node whose last heartbeat is past the lease TTL (a late beat on a loaded machine,
   * a store that was away) beats now, which also gives up what others took meanwhile; refused only when
   * the store does not answer.
   */
  async checkFresh(url: string): Promise<void> {
    if (this.fresh()) return;
    await (this.#beating ?? Promise.resolve()).catch(() => undefined);
    if (!this.fresh()) await this.beat(url).catch(() => undefined);
    if (!this.fresh()) {
      const message = "this node has not reached the store within its lease TTL";
      throw new PtcError(ErrorCode.StoreUnavailable, message, {}, { retryAfterSeconds: 1 });
    }
  }

  /** No beat starts from now on; resolves once the one in flight, if any, has settled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#beating?.catch(() => undefined);
  }
}
