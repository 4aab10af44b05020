import assert from "node:assert/strict";
import { test } from "node:test";
import { OutputCapture } from "../../src/engine/output-capture.js";

test("output past the cap is cut at a byte boundary, dropped after, and named by one marker at the end", () => {
  const seen: string[] = [];
  let limits = 0;
  const capture = new OutputCapture(
    10,
    (stream, text) => seen.push(`${stream}:${text}`),
    () => limits++,
  );
  capture.write("stdout", "12345");
  capture.write("stdout", "678901234");
  capture.write("stdout", "more");
  capture.write("stderr", "fine");
  assert.deepEqual(capture.truncated, { stdout: true, stderr: false });
  assert.equal(limits, 1);
  capture.markTruncated("stdout", 100);
  capture.appendMarkers();
  assert.equal(
    capture.text("stdout"),
    "1234567890\n[ptc: stdout truncated at 10 bytes; at least 100 more bytes dropped]\n",
  );
  assert.equal(capture.text("stderr"), "fine");
  assert.deepEqual(seen.slice(0, 3), ["stdout:12345", "stdout:67890", "stderr:fine"]);
});

test("a multi-byte character the cap would split is dropped whole, never half-kept", () => {
  const capture = new OutputCapture(
    4,
    () => {},
    () => {},
  );
  capture.write("stdout", "ab€");
  assert.equal(capture.text("stdout"), "ab");
});
