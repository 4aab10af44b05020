type Stream = "stdout" | "stderr";

/**
 * The script's stdout and stderr as the host keeps them: at most `maxOutputBytes` per stream (the child
 * enforces the cap too; this is the host's own bound on untrusted output), then dropped, with a marker
 * at the end naming how much was dropped, known only then.
 */
export class OutputCapture {
  readonly truncated = { stdout: false, stderr: false };
  #chunks = { stdout: [] as string[], stderr: [] as string[] };
  #bytes = { stdout: 0, stderr: 0 };
  /** Bytes known to be dropped per stream (at least): the marker appended at the end names them. */
  #dropped = { stdout: 0, stderr: 0 };

  constructor(
    private readonly maxOutputBytes: number,
    /** Each piece of text kept, as it is kept (the execution's events). */
    private readonly onText: (stream: Stream, text: string) => void,
    /** The first time a stream reaches the cap. */
    private readonly onLimit: () => void,
  ) {}

  write(stream: Stream, text: string): void {
    if (this.truncated[stream]) return;
    const bytes = Buffer.byteLength(text);
    const room = this.maxOutputBytes - this.#bytes[stream];
    if (bytes > room) {
      const bytesOfText = Buffer.from(text);
      // Cut at a character boundary: a UTF-8 continuation byte (0b10xxxxxx) at the cut would leave half a character.
      let end = Math.max(0, room);
      while (end > 0 && ((bytesOfText[end] ?? 0) & 0xc0) === 0x80) end--;
      const kept = bytesOfText.subarray(0, end).toString();
      this.#append(stream, kept);
      this.markTruncated(stream, bytes - room);
      return;
    }
    this.#append(stream, text);
  }

  /** Output past the cap is dropped from here on; the marker comes at the end, with the total known then. */
  markTruncated(stream: Stream, droppedBytes: number): void {
    this.truncated[stream] = true;
    this.#dropped[stream] = Math.max(this.#dropped[stream], droppedBytes);
    this.onLimit();
  }

  appendMarkers(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (!this.truncated[stream]) continue;
      const marker = `\n[ptc: ${stream} truncated at ${this.maxOutputBytes} bytes; at least ${this.#dropped[stream]} more bytes dropped]\n`;
      this.#chunks[stream].push(marker);
      this.onText(stream, marker);
    }
  }

  text(stream: Stream): string {
    return this.#chunks[stream].join("");
  }

  #append(stream: Stream, text: string): void {
    if (text.length === 0) return;
    this.#chunks[stream].push(text);
    this.#bytes[stream] += Buffer.byteLength(text);
    this.onText(stream, text);
  }
}
