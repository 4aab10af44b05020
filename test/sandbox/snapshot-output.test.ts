import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeSnapshotOutput, encodeSnapshotOutput } from "../../src/sandbox/pyodide/snapshot-output.js";

// The snapshot maker's stdout (src/sandbox/pyodide/snapshot-output.ts): the host keeps a snapshot only if the
// two lengths account for every byte it read (memory-snapshot.ts then also wants a snapshot over 1 MB).

test("the maker's output decodes to its two parts, and nothing that does not add up decodes", () => {
  const snapshot = new Uint8Array([1, 2, 3, 4, 5]);
  const codeCache = new Uint8Array([9, 8]);
  const bytes = encodeSnapshotOutput({ snapshot, codeCache });
  const decoded = decodeSnapshotOutput(bytes);
  assert.deepEqual(decoded && [[...decoded.snapshot], [...decoded.codeCache]], [
    [1, 2, 3, 4, 5],
    [9, 8],
  ]);
  // No code cache (a Node that could not make one): the snapshot alone.
  const alone = decodeSnapshotOutput(encodeSnapshotOutput({ snapshot, codeCache: new Uint8Array(0) }));
  assert.deepEqual(alone && [alone.snapshot.length, alone.codeCache.length], [5, 0]);
  // A maker that died mid-write, wrote more, or wrote a bare snapshot as before: refused.
  assert.equal(decodeSnapshotOutput(bytes.subarray(0, bytes.length - 1)), null);
  assert.equal(decodeSnapshotOutput(new Uint8Array([...bytes, 0])), null);
  assert.equal(decodeSnapshotOutput(new Uint8Array(7)), null);
  assert.equal(decodeSnapshotOutput(new Uint8Array(40_000)), null);
});
