/** How much of a stream `OutputTail` keeps. */
const MAX_OUTPUT_TAIL_BYTES = 4096;
/** How much of it goes into an error message. */
const MAX_EXCERPT_CHARS = 1500;

/**
 * The last few KB of a stream (an MCP server's stderr): enough to explain a failed start or a crash
 * without keeping an unbounded log or dumping the server's chatter onto ptc's own stderr.
 */
export class OutputTail {
  #chunks: Buffer[] = [];
  #bytes = 0;

  push(chunk: Buffer | string): void {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.#chunks.push(buffer);
    this.#bytes += buffer.length;
    // Compact only once twice the bound has piled up, so a chatty server costs O(1) per chunk.
    if (this.#bytes > MAX_OUTPUT_TAIL_BYTES * 2) {
      const kept = Buffer.concat(this.#chunks).subarray(-MAX_OUTPUT_TAIL_BYTES);
      this.#chunks = [kept];
      this.#bytes = kept.length;
    }
  }

  /** The retained text, at most `MAX_OUTPUT_TAIL_BYTES` (a multi-byte character cut at the start decodes as U+FFFD). */
  text(): string {
    return Buffer.concat(this.#chunks).subarray(-MAX_OUTPUT_TAIL_BYTES).toString("utf8");
  }

  /** The last `MAX_EXCERPT_CHARS` of the trimmed text, for an error message; empty when nothing was written. */
  excerpt(): string {
    const text = this.text().trim();
    return text.length > MAX_EXCERPT_CHARS ? `…${text.slice(-MAX_EXCERPT_CHARS)}` : text;
  }
}
