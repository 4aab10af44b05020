import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { argsSha256 } from "../../src/engine/replay.js";
import { inputFingerprint, sha256Hex } from "../../src/sandbox/pyodide/canonical-json.js";

// The child checks each replayed call with node:crypto's hash when its Node has one, and the pure-JS SHA-256
// otherwise; the host fingerprints the journal with the pure-JS one. All must agree, byte for byte.
const nativeSha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const TEXTS = ["", "a", "é", "漢字", "😀", "\ud800", "x\udfffy", "a".repeat(55), "b".repeat(64), "c".repeat(1000)];

test("the pure-JS SHA-256 gives node:crypto's digest, lone surrogates included", () => {
  for (const text of TEXTS) assert.equal(sha256Hex(text), nativeSha256(text), JSON.stringify(text));
});

test("a fingerprint is the same with either hash, and equals the host's argsSha256", () => {
  const inputs = [{ q: 1 }, { b: [1, { z: null, a: "é" }], a: "😀" }, {}, { s: "\ud800" }];
  for (const input of inputs) {
    const json = JSON.stringify(input);
    assert.equal(inputFingerprint(json, nativeSha256), inputFingerprint(json));
    assert.equal(inputFingerprint(json), argsSha256(input));
  }
});
