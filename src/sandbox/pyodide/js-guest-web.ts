// The Web-platform globals a model's JavaScript expects beside the language itself (V8 isolates, OpenAI's
// runtime among them, have them; QuickJS has none): `structuredClone`, `atob`/`btoa`, `TextEncoder`/
// `TextDecoder`, `URL`/`URLSearchParams`, `Intl` (and the `toLocale*String`/`localeCompare` methods that use
// it), `queueMicrotask`, `setInterval`/`clearInterval`, `performance.now`, `crypto.randomUUID`/
// `getRandomValues`. Without them a program that formats a number with `Intl.NumberFormat` or parses a URL
// fails with a ReferenceError, after its tool calls were made. All of it is plain JavaScript evaluated inside
// the guest's own QuickJS: it reaches nothing the guest could not reach itself.
//
// Each piece but the smallest is evaluated the first time the script reads its global: QuickJS compiles a
// whole source when it evaluates it (~0.1 ms per KB measured on the sandbox's Node 26.10: 34 KB took 3.5 ms),
// so the ~25 KB here, evaluated up front, would add ~2.5 ms to every run's ~6.5 ms warm start. Part of the
// child: erasable syntax only.
import { INTL_SOURCE } from "./js-guest-intl.ts";
import { INTL_DATE_SOURCE } from "./js-guest-intl-date.ts";
import { URL_SOURCE } from "./js-guest-url.ts";

/** `structuredClone`, base64 and UTF-8 text coding: a function expression's source, called with no argument. */
const CODING_SOURCE = String.raw`(function () {
"use strict";
function cloneError(message) {
  const error = new Error(message);
  Object.defineProperty(error, "name", { value: "DataCloneError" });
  return error;
}
const TYPED = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array];
function structuredClone(value) {
  const seen = new Map();
  function clone(v) {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) {
      if (typeof v === "symbol") throw cloneError(String(v) + " could not be cloned.");
      return v;
    }
    if (typeof v === "function") throw cloneError((v.name || "function") + " could not be cloned.");
    if (seen.has(v)) return seen.get(v);
    let out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      seen.set(v, out);
      for (const key of Object.keys(v)) out[key] = clone(v[key]);
      return out;
    }
    if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof Boolean || v instanceof Number || v instanceof String) out = Object(v.valueOf());
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (v instanceof DataView) out = new DataView(clone(v.buffer), v.byteOffset, v.byteLength);
    else if (TYPED.some((T) => v instanceof T)) out = new v.constructor(clone(v.buffer), v.byteOffset, v.length);
    if (out !== undefined) {
      seen.set(v, out);
      return out;
    }
    if (v instanceof Map) {
      out = new Map();
      seen.set(v, out);
      for (const [key, item] of v) out.set(clone(key), clone(item));
      return out;
    }
    if (v instanceof Set) {
      out = new Set();
      seen.set(v, out);
      for (const item of v) out.add(clone(item));
      return out;
    }
    if (v instanceof Error) {
      const Type = [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]
        .find((T) => v instanceof T) || Error;
      out = new Type(v.message);
      seen.set(v, out);
      if (typeof v.stack === "string") out.stack = v.stack;
      if ("cause" in v) out.cause = clone(v.cause);
      return out;
    }
    if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || (typeof WeakRef === "function" && v instanceof WeakRef)) {
      throw cloneError("#<" + v.constructor.name + "> could not be cloned.");
    }
    out = {};
    seen.set(v, out);
    for (const key of Object.keys(v)) out[key] = clone(v[key]);
    return out;
  }
  if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required, but only 0 present.");
  return clone(value);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function invalidCharacter(message) {
  const error = new Error(message);
  Object.defineProperty(error, "name", { value: "InvalidCharacterError" });
  return error;
}
function btoa(data) {
  const text = String(data);
  let out = "";
  for (let i = 0; i < text.length; i += 3) {
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255) throw invalidCharacter("btoa: the string contains characters outside of the Latin1 range");
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] +
      (i + 1 < text.length ? ALPHABET[(n >> 6) & 63] : "=") + (i + 2 < text.length ? ALPHABET[n & 63] : "=");
  }
  return out;
}
function atob(data) {
  let text = String(data).replace(/[\t\n\f\r ]/g, "");
  if (text.length % 4 === 0) text = text.replace(/==?$/, "");
  if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) throw invalidCharacter("atob: the string to be decoded is not correctly encoded");
  let out = "", bits = 0, buffer = 0;
  for (let i = 0; i < text.length; i++) {
    buffer = (buffer << 6) | ALPHABET.indexOf(text[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buffer >> bits) & 255);
    }
  }
  return out;
}

class TextEncoder {
  get encoding() { return "utf-8"; }
  encode(input) {
    const text = input === undefined ? "" : String(input);
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      let code = text.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
      if (code < 0x80) bytes.push(code);
      else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
      else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
      else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    }
    return new Uint8Array(bytes);
  }
}
class TextDecoder {
  constructor(label, options) {
    const name = label === undefined ? "utf-8" : String(label).trim().toLowerCase();
    if (name !== "utf-8" && name !== "utf8" && name !== "unicode-1-1-utf-8") {
      throw new RangeError("TextDecoder: only utf-8 is supported in the sandbox, not " + JSON.stringify(String(label)));
    }
    this.fatal = Boolean(options && options.fatal);
    this.ignoreBOM = Boolean(options && options.ignoreBOM);
  }
  get encoding() { return "utf-8"; }
  decode(input) {
    if (input === undefined) return "";
    const bytes = input instanceof ArrayBuffer ? new Uint8Array(input)
      : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : null;
    if (!bytes) throw new TypeError("TextDecoder.decode takes an ArrayBuffer or a typed array");
    let out = "";
    let i = !this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    const bad = () => {
      if (this.fatal) throw new TypeError("The encoded data was not valid utf-8");
      return 0xfffd;
    };
    while (i < bytes.length) {
      const a = bytes[i];
      let code, need;
      if (a < 0x80) { code = a; need = 0; }
      else if (a >= 0xc2 && a < 0xe0) { code = a & 31; need = 1; }
      else if (a >= 0xe0 && a < 0xf0) { code = a & 15; need = 2; }
      else if (a >= 0xf0 && a < 0xf5) { code = a & 7; need = 3; }
      else { out += String.fromCodePoint(bad()); i++; continue; }
      let j = 1;
      for (; j <= need; j++) {
        const next = bytes[i + j];
        if (next === undefined || (next & 0xc0) !== 0x80) break;
        code = (code << 6) | (next & 63);
      }
      const overlong = (need === 2 && code < 0x800) || (need === 3 && (code < 0x10000 || code > 0x10ffff));
      if (j <= need || overlong || (code >= 0xd800 && code <= 0xdfff)) {
        out += String.fromCodePoint(bad());
        i += j <= need ? j : need + 1;
        continue;
      }
      out += String.fromCodePoint(code);
      i += need + 1;
    }
    return out;
  }
}
return { structuredClone, atob, btoa, TextEncoder, TextDecoder };
})`;

/**
 * `queueMicrotask`, `setInterval`/`clearInterval`, `performance`, `crypto`: called with what they need from
 * the prelude (its timers, the run's seeded `Math.random`, the run's start time, its error printer).
 */
const TIMING_SOURCE = `(function (prelude) {
"use strict";
function queueMicrotask(callback) {
  if (typeof callback !== "function") throw new TypeError("queueMicrotask() takes a function");
  Promise.resolve().then(() => {
    try { callback(); } catch (error) { prelude.report(error); }
  });
}
// An interval is a chain of timeouts under one id (its own numbering: clearInterval takes only these).
const intervals = new Map();
let nextInterval = 1;
function setInterval(callback, delay, ...args) {
  if (typeof callback !== "function") throw new TypeError("setInterval() takes a function");
  const id = nextInterval++;
  const tick = () => {
    if (!intervals.has(id)) return;
    intervals.set(id, prelude.setTimeout(tick, delay));
    callback(...args);
  };
  intervals.set(id, prelude.setTimeout(tick, delay));
  return id;
}
function clearInterval(id) {
  if (!intervals.has(id)) return;
  prelude.clearTimeout(intervals.get(id));
  intervals.delete(id);
}
const timeOrigin = prelude.timeOrigin;
const performance = Object.freeze({ timeOrigin, now: () => Date.now() - timeOrigin });
// From the run's seeded Math.random (a replay draws the same values): ids and test data, not secrets.
function getRandomValues(array) {
  if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
    throw new TypeError("crypto.getRandomValues takes an integer typed array");
  }
  if (array.byteLength > 65536) throw new RangeError("crypto.getRandomValues: at most 65536 bytes at a time");
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(prelude.random() * 256);
  return array;
}
function randomUUID() {
  const bytes = getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");
  return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
}
const crypto = Object.freeze({ getRandomValues, randomUUID });
return { queueMicrotask, setInterval, clearInterval, performance, crypto };
})`;

/** `console.table`'s drawing: a function of `(data, columns)` returning the table's text. */
const TABLE_SOURCE = String.raw`(function () {
"use strict";
function cell(value) {
  if (typeof value === "string") return "'" + value + "'";
  if (typeof value === "bigint") return value + "n";
  if (value === undefined) return "";
  if (typeof value === "function") return "[Function" + (value.name ? ": " + value.name : " (anonymous)") + "]";
  if (value !== null && typeof value === "object") {
    try { return JSON.stringify(value); } catch { return String(value); }
  }
  return String(value);
}
return function table(data, columns) {
  const isMap = data instanceof Map;
  const keys = isMap ? Array.from(data.keys()) : Object.keys(data);
  const values = keys.map((key) => (isMap ? data.get(key) : data[key]));
  const found = [];
  let primitives = false;
  for (const value of values) {
    if (value !== null && typeof value === "object") {
      for (const key of Object.keys(value)) if (found.indexOf(key) < 0) found.push(key);
    } else primitives = true;
  }
  const shown = columns === undefined ? found : Array.from(columns, String);
  const head = ["(index)"].concat(shown, primitives ? ["Values"] : []);
  const rows = keys.map((key, i) => {
    const value = values[i];
    const object = value !== null && typeof value === "object";
    return [String(key)].concat(shown.map((column) => (object && column in value ? cell(value[column]) : "")), primitives ? [object ? "" : cell(value)] : []);
  });
  const widths = head.map((title, j) => Math.max(title.length, ...rows.map((row) => row[j].length)) + 2);
  const pad = (text, width) => " " + text + " ".repeat(width - text.length - 1);
  const rule = (l, m, r) => l + widths.map((width) => "\u2500".repeat(width)).join(m) + r;
  const row = (cells) => "\u2502" + cells.map((text, j) => pad(text, widths[j])).join("\u2502") + "\u2502";
  return [rule("\u250c", "\u252c", "\u2510"), row(head), rule("\u251c", "\u253c", "\u2524")]
    .concat(rows.map(row), [rule("\u2514", "\u2534", "\u2518")]).join("\n");
};
})`;

const LIBRARIES: Record<string, string> = {
  table: TABLE_SOURCE,
  coding: CODING_SOURCE,
  url: URL_SOURCE,
  timing: TIMING_SOURCE,
  intl: INTL_SOURCE,
  "intl-date": INTL_DATE_SOURCE,
};

/**
 * The source of one of the guest's libraries ("" for another name): what the prelude's `host.source(name)`
 * hands the guest. Handed over on first use rather than written into the prelude: QuickJS scans a string
 * literal about as slowly as code (the prelude with these ~65 KB inside took 6 ms to evaluate against 1 ms
 * without, on the sandbox's Node 26.10).
 */
export function guestLibrary(name: string): string {
  return Object.hasOwn(LIBRARIES, name) ? (LIBRARIES[name] ?? "") : "";
}

/**
 * Source inside the prelude's function (js-guest-globals.ts), after its `setTimeout`, `clearTimeout`,
 * seeded `Math.random`, `console` and `format` exist: getters on `globalThis` that evaluate a library once,
 * on first read, and the locale methods of `Number`, `BigInt`, `Date` and `String` through `Intl`.
 */
export const WEB_GLOBALS = `
const evaluate = eval;
const loaded = new Map();
function load(library, argument) {
  if (!loaded.has(library)) loaded.set(library, evaluate(host.source(library))(argument));
  return loaded.get(library);
}
const numbers = () => load("intl", () => load("intl-date", numbers()));
const dates = () => load("intl-date", numbers());
const fromPrelude = { setTimeout, clearTimeout, random: Math.random, timeOrigin: Date.now(), report: (error) => console.error("Uncaught " + format(error)) };
function defineGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
const LAZY = { structuredClone: "coding", atob: "coding", btoa: "coding", TextEncoder: "coding", TextDecoder: "coding",
  URL: "url", URLSearchParams: "url", Intl: "intl",
  queueMicrotask: "timing", setInterval: "timing", clearInterval: "timing", performance: "timing", crypto: "timing" };
for (const name of ObjectKeys(LAZY)) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      const value = (LAZY[name] === "intl" ? numbers() : load(LAZY[name], fromPrelude))[name];
      defineGlobal(name, value);
      return value;
    },
    set(value) { defineGlobal(name, value); },
  });
}
// QuickJS's own ignore locales and options: these are V8's, through Intl.
const localeMethods = [
  [Number.prototype, "toLocaleString", function (locales, options) { return new (numbers().Intl.NumberFormat)(locales, options).format(this); }],
  [BigInt.prototype, "toLocaleString", function (locales, options) { return new (numbers().Intl.NumberFormat)(locales, options).format(this); }],
  [Date.prototype, "toLocaleString", function (locales, options) { return dates().formatDate(this, locales, options, "any", "all"); }],
  [Date.prototype, "toLocaleDateString", function (locales, options) { return dates().formatDate(this, locales, options, "date", "date"); }],
  [Date.prototype, "toLocaleTimeString", function (locales, options) { return dates().formatDate(this, locales, options, "time", "time"); }],
  [String.prototype, "localeCompare", function (that, locales, options) { return new (numbers().Intl.Collator)(locales, options).compare(String(this), String(that)); }],
];
for (const [proto, name, method] of localeMethods) {
  Object.defineProperty(method, "name", { value: name });
  Object.defineProperty(proto, name, { value: method, writable: true, configurable: true });
}
// ES2024's Array.fromAsync (V8 has it; this QuickJS does not): async iterables, then sync iterables and
// array-likes whose values are awaited, each mapped value awaited, in order.
if (typeof Array.fromAsync !== "function") {
  const fromAsync = async function fromAsync(items, mapper, thisArg) {
    if (items == null) throw new TypeError("Array.fromAsync requires an array-like or iterable object");
    if (mapper !== undefined && typeof mapper !== "function") throw new TypeError(String(mapper) + " is not a function");
    const out = [];
    const add = async (value) => { out.push(mapper === undefined ? value : await mapper.call(thisArg, value, out.length)); };
    if (items[Symbol.asyncIterator] != null) { for await (const value of items) await add(value); }
    else if (items[Symbol.iterator] != null) { for (const value of items) await add(await value); }
    else { const length = Math.min(Math.max(Math.trunc(Number(items.length)) || 0, 0), 2 ** 32 - 1); for (let i = 0; i < length; i++) await add(await items[i]); }
    return out;
  };
  Object.defineProperty(fromAsync, "length", { value: 1 });
  Object.defineProperty(Array, "fromAsync", { value: fromAsync, writable: true, configurable: true });
}
`;
