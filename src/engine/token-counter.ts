import { BpeRanks } from "./bpe-ranks.js";

export const TOKENIZER_NAME = "o200k_base";
/** Time the host spends counting one execution's tokens; past it the rest is extrapolated. */
export const TOKEN_COUNT_BUDGET_MS = 250;

/** Text is encoded in slices this long, so that one slice costs little even on hostile input. */
const SLICE_CHARS = 2_048;
/**
 * Runs of non-space characters, or of whitespace, at least this long are counted from a sample and scaled:
 * BPE is quadratic in a piece's bytes, and the tokenizer's pattern makes a whitespace run one piece. Counted
 * whole, a slice of 2,048 ideographic spaces (6 KB of UTF-8) held the host's event loop ~750 ms.
 */
const LONG_RUN_CHARS = 64;
/** Upper bound of one match: an unbounded `\S{64,}` overflows the regex stack on a run of ~10M characters. */
const LONG_RUN_MAX_CHARS = 65_536;
const LONG_RUN = new RegExp(
  `\\S{${LONG_RUN_CHARS},${LONG_RUN_MAX_CHARS}}|\\s{${LONG_RUN_CHARS},${LONG_RUN_MAX_CHARS}}`,
  "g",
);

/**
 * A piece of the tokenizer's pattern longer than this is counted in parts this long (and the count is
 * approximate): BPE is quadratic in a piece, and the pattern makes a mix of punctuation and line ends one piece
 * (`/` and newline alternating: a 2,048-character slice held the host's event loop ~90 ms counted whole, ~4 ms
 * in parts). Only the budgeted count does this; `loadTokenizer`'s stays exact.
 */
const MAX_WHOLE_PIECE_CHARS = 128;

/** Pieces up to this long have their token count remembered (most pieces are a word, a number, punctuation). */
const MAX_REMEMBERED_PIECE_CHARS = 32;
/** Distinct pieces remembered at most; past it the memory starts over (a blob of ids fills it with strays). */
const MAX_REMEMBERED_PIECES = 65_536;

/**
 * The tokenizer's ranks and a counter built on its own pre-tokenizer. BPE never merges across the pieces its
 * pattern splits text into, so a text's count is the sum of its pieces' counts, and a piece counts the
 * same wherever it occurs: each distinct piece is counted once and remembered. js-tiktoken's `encode`
 * builds three regular expressions and two sets on every call: ~12 µs for a result such as `"42"`, which
 * made counting 20,000 small results take longer than TOKEN_COUNT_BUDGET_MS (so the figure was
 * extrapolated); counted by pieces it is ~1 µs. Special tokens (`<|endoftext|>`) count as the text they
 * are, never as a special token (and never throw, as `encode`'s default does). The ranks are js-tiktoken's
 * data, counted without its `Tiktoken` (bpe-ranks.ts says why).
 */
interface Counter {
  ranks: BpeRanks;
  pattern: RegExp;
  pieces: Map<string, number>;
}

let counter: Promise<Counter> | undefined;

function loadCounter(): Promise<Counter> {
  counter ??= (async () => {
    const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
    return { ranks: new BpeRanks(ranks.bpe_ranks), pattern: new RegExp(ranks.pat_str, "gu"), pieces: new Map() };
  })();
  return counter;
}

/** Counts a text's tokens exactly (no budget, no sampling): for test-sized texts, e.g. a scripted model's usage. */
export interface ExactTokenCounter {
  count(text: string): number;
}

/** Loads the tokenizer's ranks once per process (~0.16 s of CPU); call early to keep it off the hot path. */
export async function loadTokenizer(): Promise<ExactTokenCounter> {
  const loaded = await loadCounter();
  return { count: (text) => countPieces(loaded, text) };
}

/**
 * Tokens of `text` encoded as plain text: the sum over the pieces of the tokenizer's pattern. With `parted`, a
 * piece longer than MAX_WHOLE_PIECE_CHARS is counted in parts, and `parted.happened` says so.
 */
function countPieces({ ranks, pattern, pieces }: Counter, text: string, parted?: { happened: boolean }): number {
  let tokens = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const piece = match[0];
    let count = pieces.get(piece);
    if (count === undefined) {
      if (parted && piece.length > MAX_WHOLE_PIECE_CHARS) {
        parted.happened = true;
        count = 0;
        for (let at = 0; at < piece.length; at += MAX_WHOLE_PIECE_CHARS) {
          count += ranks.countPiece(piece.slice(at, at + MAX_WHOLE_PIECE_CHARS));
        }
      } else count = ranks.countPiece(piece);
      if (piece.length <= MAX_REMEMBERED_PIECE_CHARS) {
        if (pieces.size >= MAX_REMEMBERED_PIECES) pieces.clear();
        pieces.set(piece, count);
      }
    }
    tokens += count;
  }
  return tokens;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Splits text into slices to encode, with long runs (of non-space or of space) apart. */
function* slices(text: string): Generator<[string, boolean]> {
  let last = 0;
  for (const match of text.matchAll(LONG_RUN)) {
    for (let start = last; start < match.index; start += SLICE_CHARS) {
      yield [text.slice(start, Math.min(start + SLICE_CHARS, match.index)), false];
    }
    yield [match[0], true];
    last = match.index + match[0].length;
  }
  for (let start = last; start < text.length; start += SLICE_CHARS)
    yield [text.slice(start, start + SLICE_CHARS), false];
}

/**
 * Counts tokens with a real BPE tokenizer (o200k_base). Model-written code controls what it
 * prints and tool data can be anything, so the work is bounded: long runs (blobs, padding) are
 * counted from a sample, long pieces in parts, and past the time budget the rest is extrapolated at the rate measured
 * so far. `approximate` says whether any of it happened.
 */
export async function countTokens(texts: readonly string[]): Promise<{ tokens: number; approximate: boolean }> {
  const counter = await loadCounter();
  const deadline = performance.now() + TOKEN_COUNT_BUDGET_MS;
  let tokens = 0;
  let countedChars = 0;
  let remainingChars = texts.reduce((sum, text) => sum + text.length, 0);
  let approximate = false;
  const parted = { happened: false };
  let sinceYield = 0;
  let shortTexts = 0;
  for (const text of texts) {
    // A text shorter than a long run is one slice: counted as it is, without the slicing's regex (every
    // 64th goes the long way, which checks the time budget).
    if (text.length < LONG_RUN_CHARS && (++shortTexts & 63) !== 0) {
      tokens += countPieces(counter, text);
      countedChars += text.length;
      remainingChars -= text.length;
      continue;
    }
    for (const [slice, longRun] of slices(text)) {
      if (performance.now() > deadline) {
        const rate = countedChars > 0 ? tokens / countedChars : 0.25;
        return { tokens: tokens + Math.round(rate * remainingChars), approximate: true };
      }
      if (longRun) {
        approximate = true;
        tokens += Math.round((countPieces(counter, slice.slice(0, LONG_RUN_CHARS)) * slice.length) / LONG_RUN_CHARS);
      } else {
        tokens += countPieces(counter, slice, parted);
      }
      countedChars += slice.length;
      remainingChars -= slice.length;
      sinceYield += slice.length;
      if (sinceYield >= 65_536) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
  }
  return { tokens, approximate: approximate || parted.happened };
}
