// The one definition of a tool input's fingerprint, shared by the host (the journal, the durable store) and
// the sandbox child (replay checks each call against the journal without asking the host): canonical JSON
// (object keys sorted by UTF-16 code units at every depth, JSON.stringify's text for strings and numbers)
// and its SHA-256 over UTF-8, as lowercase hex. Part of the child (see bridge.ts): erasable syntax, sibling
// modules only, and only intrinsics captured before guest code runs. SHA-256 is here, synchronous, because
// `crypto.subtle` is asynchronous and the child has no `node:crypto` hash it may trust after guest code
// ran; a 64-byte block costs ~1 µs, so the 1,000 calls of a long journal hash in about a millisecond.
import { parseJson, stringifyJson, uncurry } from "./child-intrinsics.ts";

const objectKeys = Object.keys;
const isArray = Array.isArray;
const sortKeys = uncurry(Array.prototype.sort) as (keys: string[]) => string[];
const codeAt = uncurry(String.prototype.charCodeAt);
const hasOwn = Object.hasOwn;

/** Canonical JSON of a JSON value (undefined members are left out, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return stringifyJson(value) ?? "null";
  if (isArray(value)) {
    let text = "[";
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      text += `${index ? "," : ""}${item === undefined ? "null" : canonicalJson(item)}`;
    }
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  let text = "{";
  let first = true;
  for (const key of sortKeys(objectKeys(record))) {
    const item = hasOwn(record, key) ? record[key] : undefined;
    if (item === undefined) continue;
    text += `${first ? "" : ","}${stringifyJson(key)}:${canonicalJson(item)}`;
    first = false;
  }
  return `${text}}`;
}

/**
 * The fingerprint of a tool input sent as JSON text (the guest's `json.dumps`, in any key order). `sha256`
 * may be a native hash of the same digest (the child passes node:crypto's, child-replay.ts).
 */
export function inputFingerprint(inputJson: string, sha256: (text: string) => string = sha256Hex): string {
  return sha256(canonicalJson(parseJson(inputJson)));
}

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
];
const HEX = "0123456789abcdef";

/** UTF-8 bytes of `text` (a lone surrogate becomes U+FFFD, as Node's encoder does). */
function utf8(text: string): number[] {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    let code = codeAt(text, index);
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = index + 1 < text.length ? codeAt(text, index + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        index++;
      } else {
        code = 0xfffd;
      }
    }
    if (code < 0x80) bytes[bytes.length] = code;
    else if (code < 0x800) {
      bytes[bytes.length] = 0xc0 | (code >> 6);
      bytes[bytes.length] = 0x80 | (code & 63);
    } else if (code < 0x10000) {
      bytes[bytes.length] = 0xe0 | (code >> 12);
      bytes[bytes.length] = 0x80 | ((code >> 6) & 63);
      bytes[bytes.length] = 0x80 | (code & 63);
    } else {
      bytes[bytes.length] = 0xf0 | (code >> 18);
      bytes[bytes.length] = 0x80 | ((code >> 12) & 63);
      bytes[bytes.length] = 0x80 | ((code >> 6) & 63);
      bytes[bytes.length] = 0x80 | (code & 63);
    }
  }
  return bytes;
}

/** SHA-256 (FIPS 180-4) of `text` as UTF-8, lowercase hex: the same as node:crypto's `sha256` hex digest. */
export function sha256Hex(text: string): string {
  const bytes = utf8(text);
  const bitLength = bytes.length * 8;
  bytes[bytes.length] = 0x80;
  while (bytes.length % 64 !== 56) bytes[bytes.length] = 0;
  const high = Math.floor(bitLength / 0x100000000);
  for (const word of [high, bitLength >>> 0]) {
    bytes[bytes.length] = word >>> 24;
    bytes[bytes.length] = (word >>> 16) & 255;
    bytes[bytes.length] = (word >>> 8) & 255;
    bytes[bytes.length] = word & 255;
  }
  // Indexed reads go through `at` (noUncheckedIndexedAccess): every index here is in range.
  const at = (list: ArrayLike<number>, index: number): number => list[index] ?? 0;
  const h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Int32Array(64);
  for (let offset = 0; offset < bytes.length; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const o = offset + i * 4;
      w[i] = (at(bytes, o) << 24) | (at(bytes, o + 1) << 16) | (at(bytes, o + 2) << 8) | at(bytes, o + 3);
    }
    for (let i = 16; i < 64; i++) {
      const x = at(w, i - 15);
      const y = at(w, i - 2);
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (at(w, i - 16) + s0 + at(w, i - 7) + s1) | 0;
    }
    let a = at(h, 0);
    let b = at(h, 1);
    let c = at(h, 2);
    let d = at(h, 3);
    let e = at(h, 4);
    let f = at(h, 5);
    let g = at(h, 6);
    let hh = at(h, 7);
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + s1 + ((e & f) ^ (~e & g)) + at(K, i) + at(w, i)) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    const add = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i++) h[i] = (at(h, i) + at(add, i)) | 0;
  }
  let hex = "";
  for (const word of h) for (let shift = 28; shift >= 0; shift -= 4) hex += HEX[(word >>> shift) & 15] ?? "";
  return hex;
}
