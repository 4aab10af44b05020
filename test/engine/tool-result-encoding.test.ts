import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeToolResult, jsonSizeAtLeast } from "../../src/engine/tool-result-encoding.js";

const MB = 1_048_576;

test("a few huge strings are refused before serialising; many values are left to JSON.stringify's exact count", () => {
  const blob = "x".repeat(11 * MB);
  const early = encodeToolResult("t", { blob, rows: [1, 2, 3] }, 10 * MB);
  assert.ok(!early.ok);
  assert.equal(early.error.code, "tool_result_too_large");
  assert.match(early.error.message, /^result of t is over the limit of 10485760 bytes/);

  const rows = Array.from({ length: 200_000 }, (_, id) => ({ id, name: `customer ${id}` }));
  // The walk stops at its budget: a lower bound far under the real size, never a full second pass.
  assert.ok(jsonSizeAtLeast(rows, 10 * MB) < 1 * MB);
  const late = encodeToolResult("t", rows, 1 * MB);
  assert.ok(!late.ok);
  assert.match(late.error.message, /^result of t is \d+ bytes as JSON, over the limit of 1048576 bytes/);

  const fits = encodeToolResult("t", rows.slice(0, 1_000), 1 * MB);
  assert.ok(fits.ok);
  assert.equal(fits.bytes, Buffer.byteLength(JSON.stringify(rows.slice(0, 1_000))));
});

test("cycles and BigInts are still reported by serialising, not hidden by the walk", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cycle = encodeToolResult("t", cyclic, MB);
  assert.ok(!cycle.ok);
  assert.match(cycle.error.message, /circular/);
  const big = encodeToolResult("t", { n: 10n }, MB);
  assert.ok(!big.ok);
  assert.match(big.error.message, /BigInt/);
});
