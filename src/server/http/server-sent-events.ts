import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { ExecutionEvent } from "../../protocol/execution.js";
import type { StoredExecution } from "./stored-execution.js";
import { wireEvent, wireResult } from "./wire-shapes.js";

/** A comment line this often keeps proxies from closing a stream that waits on a paused execution. */
const SSE_KEEPALIVE_MS = 15_000;

/**
 * Streams an execution's events: every past event first (the engine's event log replays from the
 * start), then live ones, ending after `done`. Event ids are positions, so a client reconnecting
 * with `Last-Event-ID` resumes after the last event it saw.
 */
export function executionEventStream(c: Context, entry: StoredExecution): Response {
  const skipThrough = parseLastEventId(c.req.header("last-event-id"));
  return streamSSE(c, async (stream) => {
    const keepalive = setInterval(() => void stream.write(": keepalive\n\n"), SSE_KEEPALIVE_MS);
    const closed = new AbortController();
    stream.onAbort(() => closed.abort());
    try {
      while (!entry.handle && !entry.result && !closed.signal.aborted) {
        await entry.nextChange(SSE_KEEPALIVE_MS, closed.signal);
      }
      if (entry.handle) await forward(stream, entry.handle, skipThrough, closed.signal);
      else if (entry.result && skipThrough < 0) {
        // Never started (cancelled while queued): its whole story is the result.
        await stream.writeSSE({ id: "0", event: "done", data: JSON.stringify({ result: wireResult(entry.result) }) });
      }
    } finally {
      clearInterval(keepalive);
    }
  });
}

/** The position to resume after; -1 (from the start) when absent or not a position (`Number("")` is 0). */
export function parseLastEventId(header: string | undefined): number {
  if (header === undefined || !/^\d+$/.test(header.trim())) return -1;
  return Number(header.trim());
}

async function forward(
  stream: SSEStreamingApi,
  events: AsyncIterable<ExecutionEvent>,
  skipThrough: number,
  closed: AbortSignal,
): Promise<void> {
  const iterator = events[Symbol.asyncIterator]();
  const aborted = new Promise<null>((resolve) => {
    if (closed.aborted) resolve(null);
    closed.addEventListener("abort", () => resolve(null), { once: true });
  });
  for (let index = 0; ; index++) {
    // A client that leaves while the execution is quiet is noticed at once, not at the next event.
    const next = await Promise.race([iterator.next(), aborted]);
    if (next === null || next.done) return;
    if (index <= skipThrough) continue;
    await stream.writeSSE({ id: String(index), event: next.value.type, data: JSON.stringify(wireEvent(next.value)) });
    if (next.value.type === "done") return;
  }
}
