import { ErrorCode } from "../protocol/errors.js";
import type { ToolOutcome } from "../protocol/execution.js";
import type { JsonValue } from "../protocol/json-schema.js";
import { unserializableResult } from "./tool-failure.js";

/** An outcome with the JSON text the sandbox receives (set when the value was serialised). */
export type EncodedOutcome = ToolOutcome & { text?: string; bytes?: number };

/**
 * Values the pre-check visits at most. It is there for results with few values and huge strings (a
 * 100 MB string would otherwise be serialised, and held twice, only to be refused); a result with many
 * values pays for serialising alone: walking 60,000 of them cost ~80% of `JSON.stringify` itself
 * (15 ms against 19 ms here), work done twice on the host's event loop for every result.
 */
const MAX_VALUES_PRECHECKED = 1_024;

/**
 * A lower bound on the size of `value` as JSON, counted until it passes `limit` (then any number above
 * it) or `maxValues` values were visited. This walk holds nothing. Each object is visited once (a cycle
 * is left for `JSON.stringify` to report), values with a `toJSON` count as empty, and anything that
 * throws ends the walk: serialising reports it properly.
 */
export function jsonSizeAtLeast(value: unknown, limit: number, maxValues = MAX_VALUES_PRECHECKED): number {
  // A scalar result (most are) needs no walk, nor its set and stack.
  if (typeof value === "string") return value.length + 2;
  if (typeof value === "number" || typeof value === "boolean") return 1;
  if (value === null) return 4;
  let size = 0;
  let visited = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  try {
    while (stack.length > 0 && size <= limit && visited++ < maxValues) {
      const item = stack.pop();
      if (typeof item === "string") size += item.length + 2;
      else if (typeof item === "number" || typeof item === "boolean") size += 1;
      else if (item === null) size += 4;
      else if (typeof item === "object" && !seen.has(item)) {
        seen.add(item);
        size += 2;
        if (typeof (item as { toJSON?: unknown }).toJSON === "function") continue;
        // Children beyond the budget are never pushed: a 10,000-row array costs what 1,024 values do.
        const room = maxValues - visited;
        if (Array.isArray(item)) {
          size += item.length;
          for (let index = Math.min(item.length, room) - 1; index >= 0; index--) stack.push(item[index]);
        } else {
          let pushed = 0;
          for (const key in item) {
            if (!Object.hasOwn(item, key)) continue;
            size += key.length + 4;
            stack.push((item as Record<string, unknown>)[key]);
            if (++pushed >= room) break;
          }
        }
      }
    }
  } catch {
    return size;
  }
  return size;
}

function tooLarge(name: string, bytes: number | undefined, maxBytes: number): EncodedOutcome {
  return {
    ok: false,
    error: {
      code: ErrorCode.ToolResultTooLarge,
      message: `result of ${name} is ${bytes === undefined ? "over" : `${bytes} bytes as JSON, over`} the limit of ${maxBytes} bytes (maxToolResultBytes); ask for less (filter, page or aggregate in the tool)`,
    },
  };
}

/**
 * Serialises a tool's result once (the text goes to the sandbox; the journal keeps the value as
 * returned), refusing one larger than `maxBytes` before it is ever serialised where that can be seen.
 */
export function encodeToolResult(name: string, value: unknown, maxBytes: number): EncodedOutcome {
  const normalized = value === undefined ? null : value;
  const atLeast = jsonSizeAtLeast(normalized, maxBytes);
  if (atLeast > maxBytes) return tooLarge(name, undefined, maxBytes);
  try {
    const text = JSON.stringify(normalized);
    if (text === undefined) throw new TypeError(`a ${typeof value} is not JSON`);
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) return tooLarge(name, bytes, maxBytes);
    return { ok: true, value: normalized as JsonValue, text, bytes };
  } catch (error) {
    // A cycle, a BigInt, a toJSON that throws, nesting that overflows the stack: a ToolError, never a crash.
    return { ok: false, error: { code: ErrorCode.ToolError, message: unserializableResult(error, value) } };
  }
}
