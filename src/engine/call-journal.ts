import type { ToolOutcome } from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";
import type { Journal } from "./journal.js";
import type { WriteAhead } from "./write-ahead.js";

/**
 * The broker's record of calls and outcomes: each goes into the execution's journal and, with a
 * write-ahead, into one FIFO of writes. Steps that must wait for the writes before them (dispatching a
 * call, handing an outcome to the sandbox, reporting it) queue behind them with `afterWrites`; without a
 * write-ahead they run at once. A write that fails stops the FIFO: nothing queued after it runs, and
 * `onWriteFailed` is told once.
 */
export class CallJournal {
  #writes: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(
    private readonly journal: Journal,
    private readonly writeAhead: WriteAhead | undefined,
    private readonly onWriteFailed: ((error: unknown) => void) | undefined,
  ) {}

  /** True when steps wait for writes (a write-ahead is in use). */
  get durable(): boolean {
    return this.writeAhead !== undefined;
  }

  call(guestCallId: number, callId: string, name: string, input: JsonValue): void {
    this.journal.appendToolCall(callId, guestCallId, name, input);
    const writeAhead = this.writeAhead;
    if (writeAhead) this.#write(() => writeAhead.call({ guestCallId, callId, tool: name, input }));
  }

  /** Journals an outcome in the order outcomes settle; the sandbox sees them in that order (`afterWrites`). */
  result(guestCallId: number, callId: string, outcome: ToolOutcome): void {
    this.journal.appendToolResult(callId, outcome);
    const writeAhead = this.writeAhead;
    if (writeAhead) this.#write(() => writeAhead.result({ guestCallId, callId, outcome }));
  }

  /** Runs `step` once the writes queued so far went through: at once without a write-ahead. */
  afterWrites(step: () => void): void {
    if (this.writeAhead === undefined) step();
    else this.#write(step);
  }

  /** Resolves once every write so far went through (at once without a write-ahead); never rejects. */
  whenDurable(): Promise<void> {
    return this.#writes;
  }

  #write(step: () => unknown): void {
    this.#writes = this.#writes
      .then(() => (this.#failed ? undefined : step()))
      .then(
        () => undefined,
        (error: unknown) => {
          if (this.#failed) return;
          this.#failed = true;
          this.onWriteFailed?.(error);
        },
      );
  }
}
