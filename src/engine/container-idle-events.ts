/** A live container's last turn or lease ended: nothing of it runs or waits. */
export type ContainerIdleListener = (containerId: string) => void;

/**
 * `ContainerManager.onContainerIdle`'s listeners. A container's check is queued once however many of its
 * turns and leases end in one go, and runs in a microtask: after their own bookkeeping, since a listener may
 * end the container (a durable node's shortage eviction).
 */
export class ContainerIdleEvents {
  readonly #listeners = new Set<ContainerIdleListener>();
  readonly #queued = new Set<string>();

  subscribe(listener: ContainerIdleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the listeners that `containerId` is idle, if `stillIdle()` holds when the microtask runs. */
  queue(containerId: string, stillIdle: () => boolean): void {
    if (this.#listeners.size === 0 || this.#queued.has(containerId)) return;
    this.#queued.add(containerId);
    queueMicrotask(() => {
      this.#queued.delete(containerId);
      if (!stillIdle()) return;
      // In a microtask a throw would be uncaught: one listener's failure must not take the process down.
      for (const listener of this.#listeners) {
        try {
          listener(containerId);
        } catch {}
      }
    });
  }
}
