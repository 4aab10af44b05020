import type {
  ExecutionError,
  ExecutionResult,
  JournalEntry,
  ScriptLanguage,
  ToolOutcome,
} from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";

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

  /**
   * Every entry an execution writes, built as a literal of one shape (two for the start). Spreading one
   * generic input, as an `append(entry)` did, cost ~9 µs of the host's ~95 µs per call (BENCHMARKS.md issue
   * 14), and in situ ~25 µs of a warm execution's ~400 for its start and end (stop 33). Keys in the order
   * that `append` wrote them.
   */
  appendStart(code: string, language: ScriptLanguage, containerId: string, toolNames: string[]): void {
    const seq = this.#entries.length;
    this.#add(
      language === "python"
        ? { type: "execution-start", code, containerId, toolNames, seq, at: Date.now() }
        : { type: "execution-start", code, language, containerId, toolNames, seq, at: Date.now() },
    );
  }

  appendEnd(status: ExecutionResult["status"], error: ExecutionError | null): void {
    this.#add({ type: "execution-end", status, error, seq: this.#entries.length, at: Date.now() });
  }

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
