import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LineSplitter } from "../../src/sandbox/pyodide/line-splitter.js";

describe("LineSplitter: frames from the sandbox child", () => {
  test("joins lines split across chunks and splits several lines in one chunk", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    for (const chunk of ['J{"a"', ":1}\nC1\tx", "\t{}\nR", "2\n"]) splitter.push(chunk);
    assert.deepEqual(lines, ['J{"a":1}', "C1\tx\t{}", "R2"]);
  });

  test("a line longer than the bound is dropped and reported (the sandbox is then killed)", () => {
    const lines: string[] = [];
    let overflows = 0;
    const splitter = new LineSplitter(
      (line) => lines.push(line),
      () => overflows++,
    );
    splitter.maxLineLength = 10;
    splitter.push("short\n");
    for (let index = 0; index < 5; index++) splitter.push("xxxx");
    assert.equal(overflows, 1);
    assert.deepEqual(lines, ["short"]);
  });

  test("a whole line over the bound is refused too, whether it ends in the chunk that passed the bound or arrives in one", () => {
    for (const chunks of [["xxxxxxxx", "xxxxx\nafter\n"], ["short\nxxxxxxxxxxxxxxx\nafter\n"]]) {
      const lines: string[] = [];
      let overflows = 0;
      const splitter = new LineSplitter(
        (line) => lines.push(line),
        () => overflows++,
      );
      splitter.maxLineLength = 10;
      for (const chunk of chunks) splitter.push(chunk);
      assert.equal(overflows, 1);
      assert.ok(!lines.some((line) => line.length > 10), "no line over the bound is delivered");
    }
  });
});
