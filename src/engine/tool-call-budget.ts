import { ErrorCode, type LimitCode } from "../protocol/errors.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { EncodedOutcome } from "./tool-result-encoding.js";

/** Why the budget refused a call: the code and message its refusal carries. */
export interface BudgetRefusal {
  code: LimitCode;
  message: string;
}

export interface ToolCallBudgetContext {
  limits: ExecutionLimits;
  onLimit(code: LimitCode): void;
}

/**
 * One execution's budgets across its tool calls: the bytes of input the script sent (refused calls
 * included), the number of calls, and the bytes of results it received. A refusal reports its limit.
 */
export class ToolCallBudget {
  #inputBytes = 0;
  #resultBytes = 0;
  #calls = 0;

  constructor(private readonly context: ToolCallBudgetContext) {}

  /**
   * Counts an input of `bytes` against the total, or refuses it. Every input the host parses counts,
   * whether the call is then refused or not: it is parsed and checked either way. One that would take
   * the total past the limit is refused unread.
   */
  admitInput(name: string, bytes: number): BudgetRefusal | null {
    const { limits } = this.context;
    if (this.#inputBytes + bytes > limits.maxTotalToolInputBytes) {
      this.context.onLimit(ErrorCode.ToolInputTotalLimit);
      const message = `input of ${name} (${bytes} bytes) would take this execution's tool inputs past ${limits.maxTotalToolInputBytes} bytes in all (maxTotalToolInputBytes)`;
      return { code: ErrorCode.ToolInputTotalLimit, message };
    }
    this.#inputBytes += bytes;
    return null;
  }

  /** Counts one more call, or refuses it past maxToolCalls. */
  admitCall(): BudgetRefusal | null {
    const { limits } = this.context;
    if (++this.#calls > limits.maxToolCalls) {
      this.context.onLimit(ErrorCode.ToolCallLimit);
      return { code: ErrorCode.ToolCallLimit, message: `tool call limit of ${limits.maxToolCalls} reached` };
    }
    return null;
  }

  /** An encoded result, counted against the per-execution total, or why it is refused. */
  admitResult(name: string, encoded: EncodedOutcome): EncodedOutcome {
    const { limits } = this.context;
    if (!encoded.ok) {
      if (encoded.error.code === ErrorCode.ToolResultTooLarge) this.context.onLimit(ErrorCode.ToolResultTooLarge);
      return encoded;
    }
    const bytes = encoded.bytes ?? 0;
    if (this.#resultBytes + bytes > limits.maxTotalToolResultBytes) {
      this.context.onLimit(ErrorCode.ToolResultTotalLimit);
      const message = `result of ${name} (${bytes} bytes) would take this execution's tool results past ${limits.maxTotalToolResultBytes} bytes in all (maxTotalToolResultBytes)`;
      return { ok: false, error: { code: ErrorCode.ToolResultTotalLimit, message } };
    }
    this.#resultBytes += bytes;
    return encoded;
  }
}
