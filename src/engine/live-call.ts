// A call the broker holds until it settles (LiveCall, tool-call-port.ts): how it is made, the context its
// handler receives, and its abort signal, which exists only once the handler reads it.
import type { ToolCallRecord, ToolCallRequest } from "../protocol/execution.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { JsonSchemaToolDefinition, ToolCallContext, ToolHandler } from "../protocol/tool.js";
import { LazyAbort } from "./lazy-abort.js";
import type { LiveCall } from "./tool-call-port.js";

/** Each definition's handler bound to it once (a handler written as a method may use `this`), not per call. */
const bound = new WeakMap<JsonSchemaToolDefinition, { handler: ToolHandler; bound: ToolHandler }>();

function boundHandler(definition: JsonSchemaToolDefinition | undefined): ToolHandler | undefined {
  const handler = definition?.handler;
  if (definition === undefined || handler === undefined) return undefined;
  const known = bound.get(definition);
  if (known?.handler === handler) return known.bound;
  const each = handler.bind(definition) as ToolHandler;
  bound.set(definition, { handler, bound: each });
  return each;
}

/** A call that passed every check, its record not yet settled; `durable` when no write-ahead holds it. */
export function newLiveCall(
  request: ToolCallRequest,
  guestCallId: number,
  definition: JsonSchemaToolDefinition | undefined,
  inputBytes: number,
  durable: boolean,
): LiveCall {
  return {
    request,
    guestCallId,
    handler: boundHandler(definition),
    abort: new LazyAbort(),
    startedAt: performance.now(),
    started: false,
    durable,
    record: {
      id: request.id,
      name: request.name,
      input: request.input,
      inputBytes,
      ok: false,
      outcome: "error",
      resolvedBy: "handler",
      durationMs: 0,
      resultBytes: 0,
    },
  };
}

/**
 * What a handler receives. Its signal is made on first read: most handlers never look, and an
 * AbortController with its signal cost ~6 µs of the host's ~95 µs per call (BENCHMARKS.md, issue 14).
 * `signal` is an own enumerable getter, so that `{ ...context }` still carries it, defined with one shared
 * descriptor (~0.3 µs; an object literal with a getter, a fresh closure each time, cost ~2-3 µs).
 */
class HandlerContext implements ToolCallContext {
  static readonly #signal: PropertyDescriptor = {
    get(this: HandlerContext): AbortSignal {
      return this.#call.abort.signal;
    },
    enumerable: true,
  };
  // Declared, not defined as fields: the keys come in the order the constructor sets them, as before.
  declare readonly callId: string;
  declare readonly executionId: string;
  declare readonly containerId: string;
  declare readonly caller: "code_execution";
  declare readonly signal: AbortSignal;
  declare readonly deadline: number;
  declare readonly maxResultBytes: number;
  readonly #call: LiveCall;

  constructor(call: LiveCall, executionId: string, containerId: string, limits: ExecutionLimits) {
    this.#call = call;
    this.callId = call.request.id;
    this.executionId = executionId;
    this.containerId = containerId;
    this.caller = "code_execution";
    Object.defineProperty(this, "signal", HandlerContext.#signal);
    this.deadline = Date.now() + limits.toolTimeoutMs;
    this.maxResultBytes = limits.maxToolResultBytes;
  }
}

export function handlerContext(
  call: LiveCall,
  executionId: string,
  containerId: string,
  limits: ExecutionLimits,
): ToolCallContext {
  return new HandlerContext(call, executionId, containerId, limits);
}

/**
 * Whether a handler's return value is its outcome as it stands: anything but a promise or another thenable.
 * Never throws: a hostile value (a Proxy whose traps throw, a `then` getter that throws) is left to
 * `Promise.resolve`, which reports that as the handler's failure.
 */
export function answeredAtOnce(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return true;
  try {
    // `instanceof` runs a Proxy's getPrototypeOf trap, and `.then` its get trap or a getter.
    return !(value instanceof Promise) && typeof (value as { then?: unknown }).then !== "function";
  } catch {
    return false;
  }
}

/** The record of a call the host refused before anything ran (not found, invalid input, a limit). */
export function refusedCallRecord(
  id: string,
  name: string,
  input: Record<string, unknown>,
  inputBytes: number,
  error: { code: string; message: string },
): ToolCallRecord {
  return {
    id,
    name,
    input,
    inputBytes,
    ok: false,
    outcome: "error",
    resolvedBy: "host",
    error,
    durationMs: 0,
    resultBytes: 0,
  };
}
