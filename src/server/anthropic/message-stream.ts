import type Anthropic from "@anthropic-ai/sdk";
import { eventStreamResponse } from "../http/event-stream-response.js";
import { anthropicErrorBody, toAnthropicError } from "./anthropic-errors.js";
import type { LoopOutcome, LoopSink } from "./message-loop.js";
import { buildMessage, UsageTotals } from "./response-builder.js";

/** Tool input JSON is sent in slices of this many characters, as the hosted API streams it. */
const INPUT_JSON_SLICE = 256;

type StreamEvent = Anthropic.RawMessageStreamEvent | { type: "ping" } | { type: "error"; error: unknown };

export function sseEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The events of one content block, in the hosted API's shapes (see test/fixtures/anthropic-recorded). */
export function blockEvents(block: Anthropic.ContentBlock, index: number): StreamEvent[] {
  const events: StreamEvent[] = [];
  const start = (contentBlock: Anthropic.ContentBlock) =>
    events.push({ type: "content_block_start", index, content_block: contentBlock });
  if (block.type === "text") {
    start({ ...block, text: "" });
    if (block.text !== "")
      events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: block.text } });
  } else if ((block.type === "tool_use" && block.caller.type === "direct") || block.type === "server_tool_use") {
    // Model-written inputs stream as JSON deltas, opened by an empty one.
    start({ ...block, input: {} });
    const json = JSON.stringify(block.input);
    events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } });
    for (let offset = 0; offset < json.length; offset += INPUT_JSON_SLICE) {
      const partial = json.slice(offset, offset + INPUT_JSON_SLICE);
      events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: partial } });
    }
  } else {
    // Calls made by code and code results arrive whole in content_block_start.
    start(block);
  }
  events.push({ type: "content_block_stop", index });
  return events;
}

export interface StreamOptions {
  id: string;
  model: string;
  /** A resumed script that pauses again is sent as one `message_start` holding the blocks, as the hosted API does. */
  resumed: boolean;
  pingIntervalMs: number;
  run(sink: LoopSink): Promise<LoopOutcome>;
}

/**
 * `stream: true`: Anthropic's SSE events as the official SDK parses them. Blocks are written as the
 * loop produces them; `message_delta` carries the stop reason, cumulative usage and `container`.
 */
export function streamMessage(options: StreamOptions): Response {
  let send: (text: string) => void = () => {};
  const write = (event: StreamEvent) => send(sseEvent(event));
  const message = (content: Anthropic.ContentBlock[], outcome?: LoopOutcome) =>
    buildMessage({
      id: options.id,
      model: options.model,
      content,
      stopReason: outcome?.stopReason ?? null,
      stopSequence: outcome?.stopSequence ?? null,
      usage: (outcome?.usage ?? new UsageTotals()).toUsage(),
      container: outcome?.container ?? null,
    });

  let started = false;
  let index = 0;
  const buffered: Anthropic.ContentBlock[] = [];
  const startMessage = () => {
    if (started) return;
    started = true;
    // No `ptc` usage yet: the SDK keeps message_start's usage object, so zeros would look final.
    const { ptc: _notYet, ...usage } = message([]).usage;
    write({ type: "message_start", message: { ...message([]), usage } });
    for (const block of buffered.splice(0)) for (const event of blockEvents(block, index++)) write(event);
  };
  const sink: LoopSink = {
    block(block) {
      if (!started) buffered.push(block);
      else for (const event of blockEvents(block, index++)) write(event);
    },
    upstreamCall: startMessage,
  };

  return eventStreamResponse(async (enqueue) => {
    send = enqueue;
    if (!options.resumed) {
      startMessage();
      write({ type: "ping" });
    }
    const ping = setInterval(() => write({ type: "ping" }), options.pingIntervalMs);
    try {
      const outcome = await options.run(sink);
      if (!started) {
        // A resumed script paused again without an upstream turn: the whole message in message_start.
        write({ type: "message_start", message: message(buffered.splice(0), outcome) });
      } else {
        write({
          type: "message_delta",
          delta: {
            stop_reason: outcome.stopReason,
            stop_sequence: outcome.stopSequence,
            stop_details: null,
            container: outcome.container,
          },
          usage: outcome.usage.toDeltaUsage(),
        });
      }
      write({ type: "message_stop" });
    } catch (error) {
      write({ type: "error", error: anthropicErrorBody(toAnthropicError(error)).error });
    } finally {
      clearInterval(ping);
    }
  });
}
