// The sandbox child's writes to the host: frames, and the script's output buffered into frames. Part of
// the child: erasable syntax and node: builtins only (see child.ts).
import { writeSync } from "node:fs";
import { encodeOutputFrame, encodeTruncatedFrame, MAX_OUTPUT_FRAME_CHARS } from "./bridge.ts";
import { exit, maxOf, sliceText, subarray, uncurry } from "./child-intrinsics.ts";

// Writes to the host are synchronous (never process.stdout, whose queue grows in memory and is lost
// with the process): a script that prints without ever yielding is slowed to the host's pace, and
// what it printed before a kill has already reached the host.
const encoder = new TextEncoder();
const pause = new Int32Array(new SharedArrayBuffer(4));
export function writeAll(bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EAGAIN") exit(0); // the host went away
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
const encode = uncurry(TextEncoder.prototype.encode);

// Frames queued during a turn of the child (tool calls, cancels) go out together, in one write(2) with the
// idle report that usually follows them (child-calls.ts): a sequential call cost two writes, and woke the
// host twice, before. Any frame sent at once goes after the queued ones, so the order is kept.
let queued = "";
/** Past this many characters queued, they go out at once: a gather of many calls is written in pieces. */
const MAX_QUEUED_CHARS = 65_536;
export function queue(line: string): void {
  queued = `${queued}${line}\n`;
  if (queued.length > MAX_QUEUED_CHARS) flushQueued();
}
export function hasQueued(): boolean {
  return queued.length > 0;
}
export function flushQueued(): void {
  if (queued.length === 0) return;
  const text = queued;
  queued = "";
  writeAll(encode(encoder, text));
}
/** Writes `line` now, after any queued frames. */
export function send(line: string): void {
  const text = `${queued}${line}\n`;
  queued = "";
  writeAll(encode(encoder, text));
}

// Output is buffered and flushed on the next macrotask, before any other message, or once it is
// FLUSH_INTERVAL_MS old, so prints keep their order relative to tool calls, a tight print loop produces
// few messages, and a script stuck after printing (a C-level loop never yields) loses at most that much.
const FLUSH_CHARS = MAX_OUTPUT_FRAME_CHARS;
const FLUSH_INTERVAL_MS = 10;
let outputCap = Number.POSITIVE_INFINITY;
const output = { stdout: "", stderr: "" };
const outputSent = { stdout: 0, stderr: 0 };
const outputDropped = { stdout: 0, stderr: 0 };
let flushScheduled = false;
let lastFlush = 0;
export function flushOutput(): void {
  flushScheduled = false;
  lastFlush = performance.now();
  for (const stream of ["stdout", "stderr"] as const) {
    const text = output[stream];
    // One print can be as long as the output cap: it goes out in frames the host's line bound admits.
    for (let at = 0; at < text.length; at += MAX_OUTPUT_FRAME_CHARS) {
      send(encodeOutputFrame(stream, sliceText(text, at, at + MAX_OUTPUT_FRAME_CHARS)));
    }
    output[stream] = "";
  }
}
export function makeWriter(stream: "stdout" | "stderr") {
  const decoder = new TextDecoder();
  return {
    isatty: false,
    write(buffer: Uint8Array): number {
      const room = maxOf(0, outputCap - outputSent[stream]);
      const kept = buffer.length > room ? subarray(buffer, 0, room) : buffer;
      if (kept.length > 0) {
        outputSent[stream] += kept.length;
        output[stream] += decoder.decode(kept, { stream: true });
      }
      if (kept.length < buffer.length) {
        const first = outputDropped[stream] === 0;
        outputDropped[stream] += buffer.length - kept.length;
        // Tell the host at once: a script that keeps printing may never reach its end to report it.
        if (first) {
          flushOutput();
          send(encodeTruncatedFrame(stream, buffer.length - kept.length));
        }
      } else if (output[stream].length > FLUSH_CHARS || performance.now() - lastFlush >= FLUSH_INTERVAL_MS) {
        flushOutput();
      } else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushOutput);
      }
      return buffer.length;
    },
  };
}

/** A run starts: the cap is its own, nothing is counted yet, and its first print goes out at once. */
export function beginOutput(maxOutputBytes: number): void {
  outputCap = maxOutputBytes > 0 ? maxOutputBytes : Number.POSITIVE_INFINITY;
  outputSent.stdout = outputSent.stderr = 0;
  outputDropped.stdout = outputDropped.stderr = 0;
  lastFlush = Number.NEGATIVE_INFINITY;
}

/** Bytes dropped past the cap in this run, per stream, for the done frame. */
export function droppedBytes(): { stdout: number; stderr: number } {
  return outputDropped;
}
