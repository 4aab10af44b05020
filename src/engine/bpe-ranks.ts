/**
 * A byte-pair-encoding tokenizer's ranks, for counting tokens (token-counter.ts): the count js-tiktoken's
 * `Tiktoken.encode` gives a piece of text, without building what `encode` and `decode` need. Its constructor
 * decodes every rank into a byte array and keys a map by the bytes joined with commas (plus a map back): for
 * o200k_base ~0.9 s of CPU and 66 MB of heap kept, per process, paid by every engine (`createEngine` loads it
 * early), every `ptc run` and every test process. Here a rank's bytes are a string of one char per byte (what
 * `atob` returns), which is also the map's key and what the merges slice: ~0.16 s and 15 MB. The merges are
 * js-tiktoken's (`bytePairMerge`): the leftmost lowest-ranked adjacent pair first, until no pair has a rank.
 */
export class BpeRanks {
  readonly #ranks = new Map<string, number>();

  /** `bpeRanks`: js-tiktoken's format, one line per run of ranks: a prefix, the first rank, base64 tokens. */
  constructor(bpeRanks: string) {
    for (const line of bpeRanks.split("\n")) {
      if (!line) continue;
      const fields = line.split(" ");
      const first = Number.parseInt(fields[1] ?? "", 10);
      for (let i = 2; i < fields.length; i++) this.#ranks.set(atob(fields[i] ?? ""), first + i - 2);
    }
  }

  /** Distinct byte sequences with a rank. */
  get size(): number {
    return this.#ranks.size;
  }

  /** Tokens of one piece of text (a match of the tokenizer's pattern), encoded as UTF-8. */
  countPiece(piece: string): number {
    const bytes = asBytes(piece);
    if (bytes.length <= 1 || this.#ranks.has(bytes)) return bytes.length === 0 ? 0 : 1;
    return this.#mergedParts(bytes);
  }

  /** js-tiktoken's `bytePairMerge`, then its count of the parts that have a rank. */
  #mergedParts(bytes: string): number {
    const ranks = this.#ranks;
    // Part i spans bytes [starts[i], starts[i + 1]); the last entry is the end.
    const starts: number[] = [];
    for (let i = 0; i <= bytes.length; i++) starts.push(i);
    while (starts.length > 2) {
      let minRank = Number.POSITIVE_INFINITY;
      let at = -1;
      for (let i = 0; i < starts.length - 2; i++) {
        const rank = ranks.get(bytes.slice(starts[i], starts[i + 2]));
        if (rank !== undefined && rank < minRank) {
          minRank = rank;
          at = i;
        }
      }
      if (at < 0) break;
      starts.splice(at + 1, 1);
    }
    let parts = 0;
    for (let i = 0; i < starts.length - 1; i++) if (ranks.has(bytes.slice(starts[i], starts[i + 1]))) parts++;
    return parts;
  }
}

/** UTF-8 bytes of `text` as a string of one char per byte (ASCII, one byte a char, is its own). */
function asBytes(text: string): string {
  return Buffer.byteLength(text, "utf8") === text.length ? text : Buffer.from(text, "utf8").toString("latin1");
}
