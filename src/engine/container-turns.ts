/** One place in a container's queue: executions (or requests) in one container run one after another. */
export interface ContainerTurn {
  readonly containerId: string;
  /** Resolves when it is this turn's go (at once when the container was free); rejects if refused first. */
  readonly granted: Promise<void>;
  /** True while the turn waits behind another. */
  readonly waiting: boolean;
  /** Gives the container to the next turn; a waiting turn just leaves the queue. Idempotent. */
  release(): void;
}

interface Entry {
  grant(): void;
  refuse(error: unknown): void;
  granted: boolean;
}

/** A container's FIFO of turns: the first holds the container, the others wait in order. */
export class ContainerTurns {
  readonly #queue: Entry[] = [];

  constructor(private readonly containerId: string) {}

  /** Turns held or waiting. */
  get size(): number {
    return this.#queue.length;
  }

  /** Turns waiting behind the one holding the container. */
  get waiting(): number {
    return Math.max(0, this.#queue.length - 1);
  }

  /** Queues a turn; `onRelease` runs when a granted turn is released. */
  take(signal?: AbortSignal, onRelease?: () => void): ContainerTurn {
    let grant: () => void = () => {};
    let refuse: (error: unknown) => void = () => {};
    const granted = new Promise<void>((resolve, reject) => {
      grant = resolve;
      refuse = reject;
    });
    // A turn nobody awaits (released or refused before its go) must not be an unhandled rejection.
    granted.catch(() => {});
    const entry: Entry = { grant, refuse, granted: false };
    const leave = () => {
      const index = this.#queue.indexOf(entry);
      if (index < 0) return false;
      this.#queue.splice(index, 1);
      if (index === 0) this.#grantHead();
      return true;
    };
    const onAbort = () => {
      if (!entry.granted && leave()) entry.refuse(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#queue.push(entry);
    if (this.#queue.length === 1) this.#grantHead();
    return {
      containerId: this.containerId,
      granted,
      get waiting() {
        return !entry.granted;
      },
      release: () => {
        signal?.removeEventListener("abort", onAbort);
        const wasGranted = entry.granted;
        if (!leave()) return;
        if (wasGranted) onRelease?.();
        else entry.refuse(new Error("turn released before its go"));
      },
    };
  }

  /** Refuses every waiting turn (the container ended); the holder keeps its turn until it releases it. */
  refuseWaiting(error: unknown): void {
    for (const entry of this.#queue.splice(1)) entry.refuse(error);
  }

  #grantHead(): void {
    const head = this.#queue[0];
    if (!head || head.granted) return;
    head.granted = true;
    head.grant();
  }
}
