import type { SandboxPool } from "../sandbox/sandbox-pool.js";
import type { SandboxProcess } from "../sandbox/sandbox-process.js";
import type { ContainerEndReason } from "./container-registry.js";

/**
 * Ends of an idle container whose sandbox goes back to the pool (reset) rather than being killed: eviction
 * under the owner's quota, and leaving this process for a durable store (`release`: idle eviction, a lost
 * lease). The same situation as a one-off execution's sandbox, and how a server, whose every execution has
 * a container, reuses sandboxes: each new container past the quota evicts the owner's oldest idle one.
 * Expiry (`containerIdleTimeoutMs`, minutes) still kills: by then the pool needs no sandbox back.
 */
const IDLE_ENDS: ReadonlySet<ContainerEndReason> = new Set(["evicted", "released"]);

/** A container's sandbox handed to one execution (`ContainerManager.lease`), until `release`. */
export interface ContainerLease {
  containerId: string;
  sandbox: SandboxProcess;
  /** The container had a sandbox before and lost it: Python state starts clean. */
  reset: boolean;
  /**
   * The container's seed when this is its first Python run in this sandbox (the run seeds `random` with it);
   * a JavaScript run, which keeps no state, gets it every time (it seeds that run's Math.random).
   */
  seed: number | undefined;
  /** The container's first run in this sandbox: the child numbers its calls from 1 (ContainerSandbox). */
  firstRun: boolean;
  /**
   * `discard`: the sandbox is no longer trustworthy (killed, crashed, timed out). `clean`: the execution
   * completed or raised, with no limit hit, stop or fault: a one-off container's sandbox then goes back to
   * the pool for a reset (a fresh interpreter) instead of being killed.
   */
  release(options: { discard: boolean; clean?: boolean }): void;
}

/**
 * One container's sandbox over the container's life: the one it holds (none before its first lease, none
 * again once killed or lost), whether its `random` was seeded, whether every execution in it ended clean; and
 * when it leaves the container, whether it goes back to the pool (`SandboxPool.recycle`: a fresh interpreter,
 * then another container; the pool decides whether it needs a reset, sandbox-reuse.ts) or is killed.
 */
export class ContainerSandbox {
  #sandbox: SandboxProcess | null = null;
  #hadSandbox = false;
  /** The sandbox whose `random` was seeded with the container's seed. */
  #seeded: SandboxProcess | null = null;
  /** The sandbox whose call numbering the container's runs continue (`firstRunIn`). */
  #numbered: SandboxProcess | null = null;
  /**
   * Every execution in the current sandbox ended clean (no limit, stop or fault): when the container then
   * ends idle, the sandbox may be recycled like a one-off's (`IDLE_ENDS`).
   */
  #clean = true;

  /** An acquire from the pool is pending: the container's execution waits for a sandbox. */
  #waiting = false;

  constructor(private readonly pool: Pick<SandboxPool, "acquire" | "recycle">) {}

  get waiting(): boolean {
    return this.#waiting;
  }

  /** The sandbox the container holds now, alive or not. */
  get current(): SandboxProcess | null {
    return this.#sandbox;
  }

  /**
   * The sandbox for a lease: the one held while it is alive, else one from the pool (`reset`: the container
   * had a sandbox before and lost it, so its Python state starts clean).
   */
  async take(cancel?: { readonly signal: AbortSignal }): Promise<{ sandbox: SandboxProcess; reset: boolean }> {
    let reset = false;
    if (!this.#sandbox?.alive) {
      reset = this.#hadSandbox;
      this.#waiting = true;
      try {
        this.#sandbox = await this.pool.acquire(cancel);
      } finally {
        this.#waiting = false;
      }
      this.#hadSandbox = true;
      this.#clean = true;
    }
    return { sandbox: this.#sandbox, reset };
  }

  /**
   * The seed a run in `sandbox` gets: the container's on its first Python run there (which seeds `random`),
   * and on every JavaScript run, which keeps no state (it seeds that run's Math.random).
   */
  seedFor(sandbox: SandboxProcess, python: boolean, seed: number | undefined): number | undefined {
    const first = !python || this.#seeded !== sandbox;
    if (python) this.#seeded = sandbox;
    return first ? seed : undefined;
  }

  /**
   * Whether a run in `sandbox` is the container's first there, in any language: the child then numbers the
   * guest's calls from 1, as a new process does. A durable journal keys calls by those numbers, and a
   * rebuild replays the container in a new process: a sandbox that served another container before (a
   * recycled one) must number them alike.
   */
  firstRunIn(sandbox: SandboxProcess): boolean {
    if (this.#numbered === sandbox) return false;
    this.#numbered = sandbox;
    return true;
  }

  /**
   * A lease of `sandbox` ended (ContainerLease.release). Unless the container lives on and keeps it, the
   * sandbox leaves it once the result is out: recycled when the container was a one-off and the execution
   * clean, else killed.
   */
  leaseEnded(
    sandbox: SandboxProcess,
    lease: { discard: boolean; clean: boolean; ephemeral: boolean; containerLive: boolean },
  ): void {
    if (!lease.clean && this.#sandbox === sandbox) this.#clean = false;
    if (!lease.discard && !lease.ephemeral && lease.containerLive) return;
    // Nobody uses this Python state again; killing or recycling can wait until the result is out. Only
    // a one-off container's sandbox is recycled: a named one's state was meant to persist, and one
    // ended under it (deleted, expired) may have been ended to stop what runs in it.
    const recycle = lease.ephemeral && lease.clean && !lease.discard;
    setImmediate(() => (recycle ? this.pool.recycle(sandbox) : sandbox.kill()));
    if (this.#sandbox === sandbox) this.#sandbox = null;
  }

  /** The container ended for `reason` (`idle`: nothing leases its sandbox): the sandbox leaves it now. */
  containerEnded(reason: ContainerEndReason, idle: boolean): void {
    const sandbox = this.#sandbox;
    this.#sandbox = null;
    // Ended for being idle, with nothing running and only clean executions behind it, its sandbox is in the
    // state of a one-off execution's after a clean end: reset, it serves another container. Deleted, closed
    // or lost, it is killed (a client may delete a container to stop what it started).
    if (sandbox && IDLE_ENDS.has(reason) && idle && this.#clean) this.pool.recycle(sandbox);
    else sandbox?.kill();
  }
}
