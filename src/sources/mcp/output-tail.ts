/** How much of a stream `OutputTail` keeps. */
export const DEFAULT_OUTPUT_TAIL_BYTES = 4096;
/** How much of it goes into an error message. */
export const DEFAULT_EXCERPT_CHARS = 1500;

/**
 * The last few KB of a stream (an MCP server's stderr): enough to explain a failed start or a crash
 * without keeping an unbounded log or dumping the server's chatter onto ptc's own stderr.
 */
export class OutputTail {
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(readonly maxBytes = DEFAULT_OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer | string): void {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.#chunks.push(buffer);
    this.#bytes += buffer.length;
    // Compact only once twice the bound has piled up, so a chatty server costs O(1) per chunk.
    if (this.#bytes > this.maxBytes * 2) {
      const kept = Buffer.concat(this.#chunks).subarray(-this.maxBytes);
      this.#chunks = [kept];
      this.#bytes = kept.length;
    }
  }

  /** The retained text, at most `maxBytes` (a multi-byte character cut at the start decodes as U+FFFD). */
  text(): string {
    return Buffer.concat(this.#chunks).subarray(-this.maxBytes).toString("utf8");
  }

  /** The last `maxChars` of the trimmed text, for an error message; empty when nothing was written. */
  excerpt(maxChars = DEFAULT_EXCERPT_CHARS): string {
    const text = this.text().trim();
    return text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
  }
}
