import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LineSplitter } from "../../src/sandbox/pyodide/line-splitter.js";

/** A splitter with a 10-character bound that records the lines it delivers and how often it overflowed. */
function boundedSplitter(): { splitter: LineSplitter; seen: { lines: string[]; overflows: number } } {
  const seen = { lines: [] as string[], overflows: 0 };
  const splitter = new LineSplitter(
    (line) => seen.lines.push(line),
    () => seen.overflows++,
  );
  splitter.maxLineLength = 10;
  return { splitter, seen };
}

describe("LineSplitter: frames from the sandbox child", () => {
  test("joins lines split across chunks and splits several lines in one chunk", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    for (const chunk of ['J{"a"', ":1}\nC1\tx", "\t{}\nR", "2\n"]) splitter.push(chunk);
    assert.deepEqual(lines, ['J{"a":1}', "C1\tx\t{}", "R2"]);
  });

  test("a line longer than the bound is dropped and reported (the sandbox is then killed)", () => {
    const { splitter, seen } = boundedSplitter();
    splitter.push("short\n");
    for (let index = 0; index < 5; index++) splitter.push("xxxx");
    assert.equal(seen.overflows, 1);
    assert.deepEqual(seen.lines, ["short"]);
  });

  test("a whole line over the bound is refused too, whether it ends in the chunk that passed the bound or arrives in one", () => {
    for (const chunks of [["xxxxxxxx", "xxxxx\nafter\n"], ["short\nxxxxxxxxxxxxxxx\nafter\n"]]) {
      const { splitter, seen } = boundedSplitter();
      for (const chunk of chunks) splitter.push(chunk);
      assert.equal(seen.overflows, 1);
      assert.ok(!seen.lines.some((line) => line.length > 10), "no line over the bound is delivered");
    }
  });
});
