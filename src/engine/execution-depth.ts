import { AsyncLocalStorage } from "node:async_hooks";

/**
 * How deeply executions may nest. A tool handler may itself call `engine.execute` (a tool implemented
 * as a script); without a bound, a script that calls such a tool which runs the same script again
 * would start sandboxes until the host runs out of memory. The top-level execution is depth 1.
 */
export const DEFAULT_MAX_EXECUTION_DEPTH = 4;

/** The depth of the execution whose tool handler is running (0 outside any handler). */
const handlerDepth = new AsyncLocalStorage<number>();

export function currentExecutionDepth(): number {
  return handlerDepth.getStore() ?? 0;
}

/**
 * Runs a tool handler of an execution at `depth`: whatever it starts, awaits included, sees that depth.
 * The arguments are passed through (as AsyncLocalStorage.run does), so a call needs no closure for them.
 */
export function runAtExecutionDepth<A extends unknown[], T>(depth: number, run: (...args: A) => T, ...args: A): T {
  return handlerDepth.run(depth, run, ...args);
}
