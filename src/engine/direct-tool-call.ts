import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { handlerFailure } from "./tool-failure.js";

export interface DirectToolCallOptions {
  callId: string;
  executionId: string;
  containerId?: string;
  timeoutMs: number;
  /** The caller's own abort (a cancelled request, an aborted run). */
  signal?: AbortSignal;
}

/**
 * Runs one tool outside the sandbox (the model called it directly): the input is validated with the
 * registry's compiled schema, the handler runs under the per-tool timeout and the caller's signal, and a
 * hung handler cannot hold the caller past either. Throws a PtcError (`invalid_tool_input`, `tool_error`,
 * `tool_timeout`, `cancelled`); a handler's own error becomes a PtcError with its message redacted, as
 * for calls from code (its code kept if it was a PtcError).
 */
export async function callToolDirectly(
  registry: ToolRegistry,
  name: string,
  input: unknown,
  options: DirectToolCallOptions,
): Promise<unknown> {
  const definition = registry.get(name)?.definition;
  if (definition?.handler === undefined) {
    throw new PtcError(ErrorCode.ToolError, `${name} has no handler here`);
  }
  const check = registry.validateInput(name, input);
  if (!check.ok) throw new PtcError(check.code, check.message);
  // A referenced timer (AbortSignal.timeout's is not): the process must stay up to report the timeout.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  if (signal.aborted) {
    clearTimeout(timer);
    throw new PtcError(ErrorCode.Cancelled, `${name} was cancelled`);
  }
  const handler = definition.handler.bind(definition);
  const context = {
    callId: options.callId,
    executionId: options.executionId,
    containerId: options.containerId ?? "",
    caller: "direct" as const,
    signal,
    deadline: Date.now() + options.timeoutMs,
  };
  return await new Promise((resolve, reject) => {
    const onAbort = () =>
      reject(
        timeout.signal.aborted && !options.signal?.aborted
          ? new PtcError(ErrorCode.ToolTimeout, `${name} did not return within ${options.timeoutMs} ms`)
          : new PtcError(ErrorCode.Cancelled, `${name} was cancelled`),
      );
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve()
      .then(() => handler(check.input, context))
      .then(resolve, (error: unknown) => {
        const failure = handlerFailure(error);
        reject(new PtcError(failure.code, failure.message));
      })
      .finally(() => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      });
  });
}
