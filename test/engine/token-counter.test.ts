import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countTokens, loadTokenizer } from "../../src/engine/token-counter.js";

/** What the tokenizer itself says, as plain text, in the counter's slices of 2,048 characters. */
async function encoded(texts: readonly string[]): Promise<number> {
  const tokenizer = await loadTokenizer();
  let tokens = 0;
  for (const text of texts) {
    for (let start = 0; start < text.length; start += 2_048) {
      tokens += tokenizer.encode(text.slice(start, start + 2_048), [], []).length;
    }
  }
  return tokens;
}

describe("token counter", () => {
  test("counting by pieces gives the tokenizer's exact count, short and long texts, any script", async () => {
    const prose =
      "The quick brown fox's 3 cubs   jumped\tover 1234567 lazy dogs.\n\n  Indented line\r\nCRLF they'll WE'RE";
    const texts = [
      "42",
      "",
      " ",
      "   x",
      "  5",
      "\n\n  \n x",
      "héllo wörld 日本語のテキスト 🎉🎉 emoji",
      JSON.stringify({ rows: [1, 2.5, -3e7, null, true], name: "a b c", nested: { k: "v" } }),
      prose,
      prose.repeat(40),
      ...Array.from({ length: 300 }, (_, i) => `row ${i}: ${(i * 7919) % 1000}`),
    ];
    const counted = await countTokens(texts);
    assert.equal(counted.approximate, false);
    assert.equal(counted.tokens, await encoded(texts));
  });

  test("a special token in a result is counted as the text it is, not refused", async () => {
    const texts = ["before <|endoftext|> after", "<|endofprompt|>"];
    const counted = await countTokens(texts);
    assert.equal(counted.tokens, await encoded(texts));
    assert.ok(counted.tokens > 2);
  });

  test("many small results (remembered pieces) are counted exactly", async () => {
    const texts = Array.from({ length: 2_000 }, (_, i) => String(i % 700));
    const counted = await countTokens(texts);
    assert.deepEqual(counted, { tokens: await encoded(texts), approximate: false });
  });
});
