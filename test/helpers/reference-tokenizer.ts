import type { Tiktoken } from "js-tiktoken/lite";

let loaded: Promise<Tiktoken> | undefined;

/** js-tiktoken's own o200k_base tokenizer (~0.9 s to build): what the engine's counter must agree with. */
export function referenceTokenizer(): Promise<Tiktoken> {
  loaded ??= (async () => {
    const [{ Tiktoken }, ranks] = await Promise.all([
      import("js-tiktoken/lite"),
      import("js-tiktoken/ranks/o200k_base"),
    ]);
    return new Tiktoken(ranks.default);
  })();
  return loaded;
}
