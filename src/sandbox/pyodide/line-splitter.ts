// Splits a stream of text chunks into lines: the host reads the child's frames with it, the child the
// host's. Part of the child (see bridge.ts): erasable syntax, and only intrinsics captured before guest
// code runs (the guest shares the child's realm and could replace String.prototype.indexOf).
import { indexOf, sliceText } from "./child-intrinsics.ts";

/**
 * Splits chunks into lines without re-scanning or copying small pieces: only the new chunk is searched,
 * and a partial line is kept as a concatenation (a V8 rope), flattened once when its line is complete.
 */
export class LineSplitter {
  #pending = "";
  readonly #onLine: (line: string) => void;
  readonly #onOverflow: () => void;
  /** Longest accepted line; past it `onOverflow` fires, the line is dropped, and so is the rest of the chunk. */
  maxLineLength = Number.POSITIVE_INFINITY;

  constructor(onLine: (line: string) => void, onOverflow: () => void = () => {}) {
    this.#onLine = onLine;
    this.#onOverflow = onOverflow;
  }

  push(chunk: string): void {
    let start = 0;
    let newline = indexOf(chunk, "\n");
    while (newline !== -1) {
      const piece = sliceText(chunk, start, newline);
      const line = start === 0 && this.#pending.length > 0 ? this.#pending + piece : piece;
      this.#pending = "";
      // A whole line is bounded as a partial one is: one that ends in the chunk that pushed it past the
      // bound (or arrives in a single chunk) is refused too, not delivered.
      if (line.length > this.maxLineLength) {
        this.#onOverflow();
        return;
      }
      this.#onLine(line);
      start = newline + 1;
      newline = indexOf(chunk, "\n", start);
    }
    if (start < chunk.length) {
      this.#pending += start === 0 ? chunk : sliceText(chunk, start);
      if (this.#pending.length > this.maxLineLength) {
        this.#pending = "";
        this.#onOverflow();
      }
    }
  }
}
