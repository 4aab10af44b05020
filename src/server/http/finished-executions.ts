import type { StoredExecution } from "./stored-execution.js";

/** Finished executions stay readable (GET, events) this long, and at most this many per server. */
export const DEFAULT_FINISHED_RETENTION_MS = 3_600_000;
export const DEFAULT_MAX_FINISHED_EXECUTIONS = 1_000;
/**
 * ...and while their output, tool inputs and tool results (kept twice: in the event log replayed by
 * `events`, and in the result) add up to at most this many bytes; past it the oldest are dropped.
 */
export const DEFAULT_MAX_FINISHED_BYTES = 256 * 1_048_576;
/** Old finished executions are swept this often (containers are the engine's `ContainerManager`'s). */
export const SWEEP_INTERVAL_MS = 60_000;

export interface FinishedExecutionsOptions {
  finishedRetentionMs?: number;
  maxFinishedExecutions?: number;
  maxFinishedBytes?: number;
}

/**
 * The finished executions a server keeps readable, oldest first, within the retention bounds (age, count,
 * retained bytes; the newest always stays). `onDrop` forgets one everywhere else.
 */
export class FinishedExecutions {
  readonly #finished: StoredExecution[] = [];
  #bytes = 0;
  readonly #options: Required<FinishedExecutionsOptions>;
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    options: FinishedExecutionsOptions,
    private readonly onDrop: (entry: StoredExecution) => void,
  ) {
    this.#options = {
      finishedRetentionMs: options.finishedRetentionMs ?? DEFAULT_FINISHED_RETENTION_MS,
      maxFinishedExecutions: options.maxFinishedExecutions ?? DEFAULT_MAX_FINISHED_EXECUTIONS,
      maxFinishedBytes: options.maxFinishedBytes ?? DEFAULT_MAX_FINISHED_BYTES,
    };
    this.#sweeper = setInterval(() => this.prune(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#finished.length;
  }

  /** Keeps a finished execution (finished here, or read back from a store), then applies the bounds. */
  add(entry: StoredExecution): void {
    this.#finished.push(entry);
    this.#bytes += entry.retainedBytes();
    this.prune();
  }

  /** Drops the oldest finished executions past the retention bounds (age, count, bytes; the newest stays). */
  prune(): void {
    const cutoff = Date.now() - this.#options.finishedRetentionMs;
    while (this.#finished.length > 0) {
      const oldest = this.#finished[0] as StoredExecution;
      const overBytes = this.#bytes > this.#options.maxFinishedBytes && this.#finished.length > 1;
      if (
        !overBytes &&
        this.#finished.length <= this.#options.maxFinishedExecutions &&
        (oldest.finishedAt ?? 0) >= cutoff
      ) {
        break;
      }
      this.#finished.shift();
      this.#bytes -= oldest.retainedBytes();
      this.onDrop(oldest);
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
