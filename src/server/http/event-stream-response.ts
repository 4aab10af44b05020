/**
 * A `text/event-stream` response whose body `produce` writes. `write(text)` enqueues raw SSE text and is a
 * no-op once the client left (a write must never throw into the loop that produces the events); the stream
 * closes when `produce` settles, which it is expected to do without throwing (it reports its own failures as
 * events). `/v1/messages` and `/v1/responses` write their own event shapes through it.
 */
export function eventStreamResponse(produce: (write: (text: string) => void) => Promise<void>): Response {
  const encoder = new TextEncoder();
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        if (closed) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          closed = true;
        }
      };
      void produce(write)
        .catch(() => {})
        .finally(() => {
          if (closed) return;
          closed = true;
          controller.close();
        });
    },
    cancel() {
      closed = true;
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  });
}
