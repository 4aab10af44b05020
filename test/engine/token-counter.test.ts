import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countTokens, loadTokenizer } from "../../src/engine/token-counter.js";
import { referenceTokenizer } from "../helpers/reference-tokenizer.js";

/** What js-tiktoken's tokenizer says, as plain text, in the counter's slices of 2,048 characters. */
async function encoded(texts: readonly string[]): Promise<number> {
  const tokenizer = await referenceTokenizer();
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

  test("agrees with js-tiktoken on every piece of varied random text: any script, bytes, code, whitespace runs", async () => {
    const reference = await referenceTokenizer();
    const exact = await loadTokenizer();
    // Deterministic: a fixed-seed generator, so a failure names the same text every run.
    let seed = 12_345;
    const next = (below: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 8) % below;
    };
    const alphabets = [
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
      "0123456789",
      " \t\n\r  ",
      "{}[]()<>:;,.!?'\"`~@#$%^&*-_=+/\\|",
      "éèêëàâäôöûüçñßøåæœÉÈÀÇ",
      "日本語のテキスト中文字符한국어",
      "Ελληνικάкириллицаעבריתالعربيةहिन्दी",
      "🎉😀👍🏽🇫🇷‍❤️",
    ];
    const words = ["the", " The", "'s", "'LL", "  ", "\n\n", "1234567", "<|endoftext|>", "\ud800", "\udfff"];
    const texts: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      let text = "";
      const length = 1 + next(40);
      for (let j = 0; j < length; j++) {
        if (next(4) === 0) text += words[next(words.length)];
        else {
          const alphabet = alphabets[next(alphabets.length)] ?? "";
          text += [...alphabet][next([...alphabet].length)] ?? "";
        }
      }
      texts.push(text);
    }
    texts.push(
      " ".repeat(700),
      "\n".repeat(300),
      "a".repeat(63),
      "ab".repeat(40),
      String.fromCharCode(0, 1, 127, 128, 255),
    );
    for (const text of texts) {
      assert.equal(exact.count(text), reference.encode(text, [], []).length, JSON.stringify(text));
    }
  });

  test("a long run of whitespace is counted from a sample, as a long run of anything else", async () => {
    // BPE is quadratic in a piece, and a whitespace run is one piece: counted whole, 2,048 ideographic spaces
    // (6 KB of UTF-8) held the event loop ~750 ms. Sampled, the count is marked approximate and stays close.
    const exact = await loadTokenizer();
    for (const run of ["\u3000".repeat(640), "\n".repeat(640), " ".repeat(640), "\t \u00a0".repeat(300)]) {
      const text = `before${run}after`;
      const counted = await countTokens([text]);
      assert.equal(counted.approximate, true, JSON.stringify(run.slice(0, 3)));
      const truth = exact.count(text);
      // Measured: 42 / 44, 42 / 42, 12 / 8 (runs of plain spaces merge into few long tokens), 607 / 602.
      assert.ok(Math.abs(counted.tokens - truth) <= truth * 0.1 + 5, `${counted.tokens} against ${truth}`);
    }
    // Shorter runs (indentation, blank lines) are still counted exactly.
    const indented = ["def f():", `${" ".repeat(8)}return 1`, "\n".repeat(10)].join("\n");
    assert.deepEqual(await countTokens([indented]), { tokens: await encoded([indented]), approximate: false });
  });

  test("a long piece mixing punctuation and line ends is counted in parts, as a long run is sampled", async () => {
    // The tokenizer's pattern makes `/` and line ends alternating one piece, neither a run of space nor of
    // anything else: counted whole, a 2,048-character slice held the event loop ~90 ms.
    const exact = await loadTokenizer();
    for (const piece of ["/\n".repeat(1_024), "/\r\n".repeat(700), `!${"/\n".repeat(300)}`]) {
      const counted = await countTokens([`before ${piece} after`]);
      assert.equal(counted.approximate, true, JSON.stringify(piece.slice(0, 3)));
      const truth = exact.count(`before ${piece} after`);
      assert.ok(Math.abs(counted.tokens - truth) <= truth * 0.05 + 5, `${counted.tokens} against ${truth}`);
    }
    // A piece of that kind up to the part's length is still counted exactly.
    const short = `x ${"/\n".repeat(40)} y`;
    assert.deepEqual(await countTokens([short]), { tokens: await encoded([short]), approximate: false });
  });

  test("many small results (remembered pieces) are counted exactly", async () => {
    const texts = Array.from({ length: 2_000 }, (_, i) => String(i % 700));
    const counted = await countTokens(texts);
    assert.deepEqual(counted, { tokens: await encoded(texts), approximate: false });
  });
});
