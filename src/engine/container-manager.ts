import { randomBytes } from "node:crypto";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { SandboxPool } from "../sandbox/sandbox-pool.js";
import type { SandboxProcess } from "../sandbox/sandbox-process.js";

export const DEFAULT_CONTAINER_IDLE_TIMEOUT_MS = 300_000;

export interface ContainerLease {
  containerId: string;
  sandbox: SandboxProcess;
  /** The container had a sandbox before and lost it: Python state starts clean. */
  reset: boolean;
  /** `discard`: the sandbox is no longer trustworthy (killed, crashed, timed out). */
  release(options: { discard: boolean }): void;
}

export interface ContainerInfo {
  id: string;
  /** Pid of the process ptc spawned for the sandbox (bubblewrap's, when it is in use). */
  sandboxPid: number | undefined;
  busy: boolean;
  lastUsed: number;
}

interface Container {
  id: string;
  ephemeral: boolean;
  sandbox: SandboxProcess | null;
  hadSandbox: boolean;
  /** Executions in one container run one after another: each waits for the previous lease. */
  tail: Promise<void>;
  busy: number;
  lastUsed: number;
}

export function newContainerId(): string {
  return `ctr_${randomBytes(12).toString("base64url")}`;
}

/**
 * Maps containers (sessions whose Python globals persist across executions) to sandboxes. A
 * sandbox serves exactly one container for its whole life; ending the container kills it.
 */
export class ContainerManager {
  #containers = new Map<string, Container>();
  #sweeper: NodeJS.Timeout;

  constructor(
    private readonly pool: SandboxPool,
    private readonly idleTimeoutMs = DEFAULT_CONTAINER_IDLE_TIMEOUT_MS,
  ) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(idleTimeoutMs, 30_000));
    this.#sweeper.unref();
  }

  has(containerId: string): boolean {
    return this.#containers.has(containerId);
  }

  /** Operational view of one container (for diagnostics and fault tests). */
  inspect(containerId: string): ContainerInfo | undefined {
    const container = this.#containers.get(containerId);
    if (!container) return undefined;
    return {
      id: container.id,
      sandboxPid: container.sandbox?.alive ? container.sandbox.pid : undefined,
      busy: container.busy > 0,
      lastUsed: container.lastUsed,
    };
  }

  ids(): string[] {
    return [...this.#containers.keys()];
  }

  /** Waits for the container's previous execution, then hands out its sandbox (starting one if needed). */
  async lease(containerId: string | undefined, signal?: AbortSignal): Promise<ContainerLease> {
    const id = containerId ?? newContainerId();
    let container = this.#containers.get(id);
    if (!container) {
      container = {
        id,
        ephemeral: containerId === undefined,
        sandbox: null,
        hadSandbox: false,
        tail: Promise.resolve(),
        busy: 0,
        lastUsed: Date.now(),
      };
      this.#containers.set(id, container);
    }
    const current = container;
    current.busy++;
    let releaseTurn: () => void = () => {};
    const previous = current.tail;
    current.tail = new Promise((resolve) => {
      releaseTurn = resolve;
    });
    await previous;
    try {
      if (signal?.aborted) throw new PtcError(ErrorCode.Cancelled, "cancelled before start");
      let reset = false;
      if (!current.sandbox?.alive) {
        reset = current.hadSandbox;
        current.sandbox = await this.pool.acquire(signal);
        current.hadSandbox = true;
      }
      const sandbox = current.sandbox;
      let released = false;
      return {
        containerId: id,
        sandbox,
        reset,
        release: ({ discard }) => {
          if (released) return;
          released = true;
          current.busy--;
          current.lastUsed = Date.now();
          if (discard || current.ephemeral) {
            // Nobody uses this sandbox again; killing it can wait until the result is out.
            setImmediate(() => sandbox.kill());
            if (current.sandbox === sandbox) current.sandbox = null;
          }
          if (current.ephemeral && current.busy === 0) this.#containers.delete(id);
          releaseTurn();
        },
      };
    } catch (error) {
      current.busy--;
      if (current.ephemeral && current.busy === 0) this.#containers.delete(id);
      releaseTurn();
      throw error;
    }
  }

  /** Ends a container: its sandbox is killed and its id forgotten. */
  close(containerId: string): boolean {
    const container = this.#containers.get(containerId);
    if (!container) return false;
    container.sandbox?.kill();
    this.#containers.delete(containerId);
    return true;
  }

  closeAll(): void {
    clearInterval(this.#sweeper);
    for (const id of this.ids()) this.close(id);
  }

  #sweep(): void {
    const cutoff = Date.now() - this.idleTimeoutMs;
    for (const container of this.#containers.values()) {
      if (container.busy === 0 && container.lastUsed < cutoff) this.close(container.id);
    }
  }
}
