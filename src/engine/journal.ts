import type { JournalEntry, ToolOutcome } from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";

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
    this.#add({ ...entry, seq: this.#entries.length, at: Date.now() } as JournalEntry);
  }

  /**
   * The two entries of every call, built as literals of one shape each: spreading the input of `append`
   * cost ~9 µs of the host's ~95 µs per call (BENCHMARKS.md issue 14). Keys in `append`'s order.
   */
  appendToolCall(callId: string, guestCallId: number, name: string, input: JsonValue): void {
    const seq = this.#entries.length;
    this.#add({ type: "tool-call", callId, guestCallId, name, input, seq, at: Date.now() });
  }

  appendToolResult(callId: string, outcome: ToolOutcome): void {
    this.#add({ type: "tool-result", callId, outcome, seq: this.#entries.length, at: Date.now() });
  }

  #add(entry: JournalEntry): void {
    this.#entries.push(entry);
    this.store?.append(this.executionId, entry);
  }

  entries(): readonly JournalEntry[] {
    return this.#entries;
  }
}
