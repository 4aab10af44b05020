import { eventStreamResponse } from "../http/event-stream-response.js";
import type { LoopOutcome, LoopSink } from "./response-loop.js";
import type { OutputItem, ResponseError, ResponseObject, ResponseStreamEvent } from "./responses-types.js";

/** Text and arguments are streamed in slices of this many characters (the upstream's reply is whole by then). */
const DELTA_CHARS = 64;
/** A comment line this often keeps proxies from closing a stream that waits on the upstream or a program. */
export const DEFAULT_STREAM_KEEPALIVE_MS = 15_000;

function slices(text: string): string[] {
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += DELTA_CHARS)
    parts.push(text.slice(offset, offset + DELTA_CHARS));
  return parts;
}

/**
 * The events of one output item, in the order OpenAI's recordings show them (see
 * test/fixtures/openai-recorded or /work/shared): a `program` is added with empty `code` and done whole;
 * a function call's arguments and a message's text stream as deltas; a `program_output` is added with an empty
 * `result` that `done` fills in.
 */
export function itemEvents(item: OutputItem, index: number): ResponseStreamEvent[] {
  const added = (partial: OutputItem): ResponseStreamEvent => ({
    type: "response.output_item.added",
    output_index: index,
    item: partial,
  });
  const done: ResponseStreamEvent = { type: "response.output_item.done", output_index: index, item };
  switch (item.type) {
    case "program":
      return [added({ ...item, code: "" }), done];
    case "program_output":
      return [added({ ...item, result: "" }), done];
    case "function_call": {
      const base = { item_id: item.id, output_index: index };
      return [
        added({ ...item, arguments: "", status: "in_progress" }),
        ...slices(item.arguments).map(
          (delta): ResponseStreamEvent => ({ type: "response.function_call_arguments.delta", ...base, delta }),
        ),
        { type: "response.function_call_arguments.done", ...base, arguments: item.arguments },
        done,
      ];
    }
    case "message": {
      const events: ResponseStreamEvent[] = [added({ ...item, status: "in_progress", content: [] })];
      item.content.forEach((part, contentIndex) => {
        const base = { item_id: item.id, output_index: index, content_index: contentIndex };
        events.push({ type: "response.content_part.added", ...base, part: { ...part, text: "" } });
        for (const delta of slices(part.text)) {
          events.push({ type: "response.output_text.delta", ...base, delta, logprobs: [] });
        }
        events.push({ type: "response.output_text.done", ...base, text: part.text, logprobs: [] });
        events.push({ type: "response.content_part.done", ...base, part });
      });
      events.push(done);
      return events;
    }
  }
}

export interface StreamOptions {
  /** The response object for `created` and `in_progress` (status `in_progress`, no output yet). */
  started: ResponseObject;
  keepaliveMs: number;
  run(sink: LoopSink): Promise<LoopOutcome>;
  /** The final response object for `response.completed`, from the output and the loop's outcome. */
  finish(output: OutputItem[], outcome: LoopOutcome): Promise<ResponseObject>;
  /** The response object for `response.failed`, with the error as the client should see it. */
  fail(output: OutputItem[], error: ResponseError): ResponseObject;
  describe(error: unknown): ResponseError;
}

/**
 * `stream: true`: the Responses API's SSE events as the official SDK parses them, each with its
 * `sequence_number`. Items are written as the loop produces them; a failure after the stream started ends
 * it with `response.failed` (the response's `error` says what happened).
 */
export function streamResponse(options: StreamOptions): Response {
  let send: (text: string) => void = () => {};
  let sequence = 0;
  const write = (event: ResponseStreamEvent) => {
    const payload = { ...event, sequence_number: sequence++ };
    send(`event: ${event.type}\ndata: ${JSON.stringify(payload)}\n\n`);
  };
  const output: OutputItem[] = [];
  const sink: LoopSink = {
    item(item) {
      const index = output.length;
      output.push(item);
      for (const event of itemEvents(item, index)) write(event);
    },
  };
  return eventStreamResponse(async (enqueue) => {
    send = enqueue;
    write({ type: "response.created", response: options.started });
    write({ type: "response.in_progress", response: options.started });
    const keepalive = setInterval(() => enqueue(": keepalive\n\n"), options.keepaliveMs);
    try {
      const outcome = await options.run(sink);
      write({ type: "response.completed", response: await options.finish(output, outcome) });
    } catch (error) {
      write({ type: "response.failed", response: options.fail(output, options.describe(error)) });
    } finally {
      clearInterval(keepalive);
    }
  });
}
