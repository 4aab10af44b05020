import type { Tiktoken } from "js-tiktoken/lite";

/** Above this many characters per execution, tokens are extrapolated from an exact count of a sample. */
export const EXACT_TOKEN_COUNT_CHARS = 1_048_576;
export const TOKENIZER_NAME = "o200k_base";

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

/** Counts tokens of texts with a real BPE tokenizer; very large inputs are sampled and scaled. */
export async function countTokens(texts: readonly string[]): Promise<{ tokens: number; approximate: boolean }> {
  const tokenizer = await loadTokenizer();
  let budget = EXACT_TOKEN_COUNT_CHARS;
  let tokens = 0;
  let approximate = false;
  for (const text of texts) {
    if (text.length <= budget) {
      tokens += tokenizer.encode(text).length;
      budget -= text.length;
      continue;
    }
    approximate = true;
    const sample = text.slice(0, Math.max(budget, 65_536));
    const sampleTokens = tokenizer.encode(sample).length;
    tokens += Math.round((sampleTokens * text.length) / sample.length);
    budget = 0;
  }
  return { tokens, approximate };
}
