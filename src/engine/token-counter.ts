import type { Tiktoken } from "js-tiktoken/lite";

export const TOKENIZER_NAME = "o200k_base";
/** Time the host spends counting one execution's tokens; past it the rest is extrapolated. */
export const TOKEN_COUNT_BUDGET_MS = 250;

/** Text is encoded in slices this long, so that one slice costs little even on hostile input. */
const SLICE_CHARS = 2_048;
/** Runs of non-space characters at least this long are counted from a sample and scaled. */
const LONG_RUN_CHARS = 64;
/** Upper bound of one match: an unbounded `\S{64,}` overflows the regex stack on a run of ~10M characters. */
const LONG_RUN_MAX_CHARS = 65_536;
const LONG_RUN = new RegExp(`\\S{${LONG_RUN_CHARS},${LONG_RUN_MAX_CHARS}}`, "g");

let encoder: Promise<Tiktoken> | undefined;

/** Loads the tokenizer once per process (about half a second); call early to keep it off the hot path. */
export function loadTokenizer(): Promise<Tiktoken> {
  encoder ??= (async () => {
    const [{ Tiktoken }, ranks] = await Promise.all([
      import("js-tiktoken/lite"),
      import("js-tiktoken/ranks/o200k_base"),
    ]);
    return new Tiktoken(ranks.default);
  })();
  return encoder;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Splits text into slices to encode, with long non-space runs apart (BPE is quadratic in a run). */
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
 * counted from a sample, and past the time budget the rest is extrapolated at the rate measured
 * so far. `approximate` says whether either happened.
 */
export async function countTokens(texts: readonly string[]): Promise<{ tokens: number; approximate: boolean }> {
  const tokenizer = await loadTokenizer();
  const deadline = performance.now() + TOKEN_COUNT_BUDGET_MS;
  let tokens = 0;
  let countedChars = 0;
  let remainingChars = texts.reduce((sum, text) => sum + text.length, 0);
  let approximate = false;
  let sinceYield = 0;
  for (const text of texts) {
    for (const [slice, longRun] of slices(text)) {
      if (performance.now() > deadline) {
        const rate = countedChars > 0 ? tokens / countedChars : 0.25;
        return { tokens: tokens + Math.round(rate * remainingChars), approximate: true };
      }
      if (longRun) {
        approximate = true;
        tokens += Math.round((tokenizer.encode(slice.slice(0, LONG_RUN_CHARS)).length * slice.length) / LONG_RUN_CHARS);
      } else {
        tokens += tokenizer.encode(slice).length;
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
  return { tokens, approximate };
}
