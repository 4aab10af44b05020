import assert from "node:assert/strict";
import { test } from "node:test";
import { anthropicStyleId, callIdFactory, newExecutionId } from "../../src/engine/random-id.js";

// Ids are drawn from a pool of random bytes refilled 4 KiB at a time (src/engine/random-id.ts): every id
// unique, in its format, across many refills.
test("ids keep their formats and never repeat across refills of the pool", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5_000; i++) {
    const execution = newExecutionId();
    const container = anthropicStyleId("container");
    const call = callIdFactory()();
    assert.match(execution, /^exec_[A-Za-z0-9_-]{16}$/);
    assert.match(container, /^container_01[0-9A-Za-z]{22}$/);
    assert.match(call, /^call_[A-Za-z0-9_-]{12}0000$/);
    for (const id of [execution, container, call]) {
      assert.ok(!seen.has(id), id);
      seen.add(id);
    }
  }
});

test("an Anthropic-style id's characters are evenly drawn", () => {
  const counts = new Map<string, number>();
  const ids = 20_000;
  for (let i = 0; i < ids; i++) {
    const random = anthropicStyleId("x").slice("x_01".length);
    assert.equal(random.length, 22);
    for (const character of random) counts.set(character, (counts.get(character) ?? 0) + 1);
  }
  assert.equal(counts.size, 62);
  const draws = ids * 22;
  const expected = draws / 62;
  // Six standard deviations of a fair draw (~500 of ~7,100): a fair pool fails about once in 10^7 runs. Without
  // the redraw of bytes 248-255, "0"-"7" came up 5/4 as often as the rest (+21%, ~18 deviations).
  const bound = 6 * Math.sqrt(draws * (1 / 62) * (61 / 62));
  for (const [character, count] of counts) {
    assert.ok(
      Math.abs(count - expected) < bound,
      `${character}: ${count} against ${expected.toFixed(0)} ± ${bound.toFixed(0)}`,
    );
  }
});
