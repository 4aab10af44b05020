/** Splits a stream of text chunks into lines without re-scanning or re-joining small pieces. */
export class LineSplitter {
  #parts: string[] = [];
  #partLength = 0;
  /** Longest accepted line; past it `onOverflow` fires and the partial line is dropped. */
  maxLineLength = Number.POSITIVE_INFINITY;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void = () => {},
  ) {}

  push(chunk: string): void {
    let start = 0;
    let newline = chunk.indexOf("\n");
    while (newline !== -1) {
      const piece = chunk.slice(start, newline);
      if (this.#parts.length > 0) {
        this.#parts.push(piece);
        const line = this.#parts.join("");
        this.#parts = [];
        this.#partLength = 0;
        this.onLine(line);
      } else {
        this.onLine(piece);
      }
      start = newline + 1;
      newline = chunk.indexOf("\n", start);
    }
    if (start < chunk.length) {
      this.#parts.push(start === 0 ? chunk : chunk.slice(start));
      this.#partLength += chunk.length - start;
      if (this.#partLength > this.maxLineLength) {
        this.#parts = [];
        this.#partLength = 0;
        this.onOverflow();
      }
    }
  }
}
