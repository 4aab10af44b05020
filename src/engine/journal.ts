import type { JournalEntry } from "../protocol/execution.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type JournalEntryInput = DistributiveOmit<JournalEntry, "seq" | "at">;

/** Where an execution's journal goes. In memory today; a durable store can implement the same interface. */
export interface JournalStore {
  append(executionId: string, entry: JournalEntry): void;
  read(executionId: string): readonly JournalEntry[];
}

/**
 * The ordered record of one execution: its code, each tool call in the order the guest issued it
 * (with the guest's own call id, which counts up) and each result. Replaying the results in that order
 * into a fresh sandbox running the same code reproduces the execution's state.
 */
export class Journal {
  #entries: JournalEntry[] = [];

  constructor(
    readonly executionId: string,
    private readonly store?: JournalStore,
  ) {}

  append(entry: JournalEntryInput): void {
    const full = { ...entry, seq: this.#entries.length, at: Date.now() } as JournalEntry;
    this.#entries.push(full);
    this.store?.append(this.executionId, full);
  }

  entries(): readonly JournalEntry[] {
    return this.#entries;
  }
}
