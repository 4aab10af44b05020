// `URL` and `URLSearchParams` for the JavaScript guest (js-guest-web.ts says why the guest has them), as
// the WHATWG URL standard parses and serializes them for what programs do with URLs: absolute and relative
// http(s)/ws(s)/ftp/file URLs and opaque ones (`mailto:`, `data:`), dot segments, default ports, percent-
// encoding of paths, queries and fragments, `searchParams` kept in step with `search`. Not covered: IDNA
// (a non-ASCII host is only lowercased, where V8 would punycode it) and IPv4 shorthand forms
// (`http://0x7f.1/`). Part of the child: erasable syntax only.

/** A function expression's source; called with no argument, it returns `{ URL, URLSearchParams }`. */
export const URL_SOURCE = String.raw`(function () {
"use strict";
const SPECIAL = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
const utf8 = (char) => unescape(encodeURIComponent(char));
// Percent-encodes what "keep" refuses, controls and non-ASCII (as UTF-8 bytes); "%" itself only when asked.
function percentEncode(text, keep, encodePercent) {
  let out = "";
  for (let char of text) {
    let code = char.codePointAt(0);
    if (code >= 0xd800 && code <= 0xdfff) {
      char = "\uFFFD";
      code = 0xfffd;
    }
    if (char === "%") out += encodePercent ? "%25" : "%";
    else if (code >= 0x20 && code < 0x7f && keep(char)) out += char;
    else for (const byte of utf8(char)) out += "%" + byte.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}
const PATH_ESCAPED = " \"#<>?\x60{}";
const QUERY_ESCAPED = " \"#<>";
const FRAGMENT_ESCAPED = " \"<>\x60";
const USERINFO_ESCAPED = " \"#<>?\x60{}/:;=@[\\]^|";
const encodePath = (text) => percentEncode(text, (c) => PATH_ESCAPED.indexOf(c) < 0);
const encodeQuery = (text, special) => percentEncode(text, (c) => QUERY_ESCAPED.indexOf(c) < 0 && !(special && c === "'"));
const encodeFragment = (text) => percentEncode(text, (c) => FRAGMENT_ESCAPED.indexOf(c) < 0);
const encodeUserinfo = (text) => percentEncode(text, (c) => USERINFO_ESCAPED.indexOf(c) < 0);

function invalid(input) {
  return new TypeError("Invalid URL: " + String(input).slice(0, 200));
}
function parseHost(text, special, input) {
  if (text === "") {
    if (special) throw invalid(input);
    return "";
  }
  if (text[0] === "[") {
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(text)) throw invalid(input);
    return text.toLowerCase();
  }
  let host = special ? decodeURIComponentLoose(text).toLowerCase() : text;
  if (/[\x00\t\n\r #/:<>?@[\\\]^|]/.test(host) || (special && /[%]/.test(host))) throw invalid(input);
  if (special && /^[0-9.]+$/.test(host)) {
    const parts = host.replace(/\.$/, "").split(".");
    if (parts.length !== 4 || parts.some((p) => p === "" || Number(p) > 255)) throw invalid(input);
    host = parts.map(Number).join(".");
  }
  return host;
}
function decodeURIComponentLoose(text) {
  return text.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    try { return decodeURIComponent(run); } catch { return run; }
  });
}
function normalizeSegments(segments, special) {
  const out = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    const lower = segment.toLowerCase();
    if (segment === ".." || lower === ".%2e" || lower === "%2e." || lower === "%2e%2e") {
      out.pop();
      if (last) out.push("");
    } else if (segment === "." || lower === "%2e") {
      if (last) out.push("");
    } else {
      out.push(encodePath(segment));
    }
  }
  return out;
}

// A parsed URL: { protocol, username, password, hostname, port, path (array, or a string when opaque), query, fragment }
function parse(input, base) {
  let text = String(input).replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "").replace(/[\t\n\r]/g, "");
  const record = { protocol: "", username: "", password: "", hostname: "", port: "", path: [], query: null, fragment: null, hasHost: false };
  const hashAt = text.indexOf("#");
  if (hashAt >= 0) {
    record.fragment = encodeFragment(text.slice(hashAt + 1));
    text = text.slice(0, hashAt);
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.\-]*):/.exec(text);
  let rest;
  if (scheme) {
    record.protocol = scheme[1].toLowerCase() + ":";
    rest = text.slice(scheme[0].length);
    if (base && record.protocol === base.protocol && record.protocol in SPECIAL && !/^[\/\\]/.test(rest)) {
      return relative(rest, base, record);
    }
  } else {
    if (!base) throw invalid(input);
    return relative(text, base, record);
  }
  const special = record.protocol in SPECIAL;
  const queryAt = rest.indexOf("?");
  if (queryAt >= 0) {
    record.query = encodeQuery(rest.slice(queryAt + 1), special);
    rest = rest.slice(0, queryAt);
  }
  if (special) {
    rest = rest.replace(/\\/g, "/");
    if (record.protocol !== "file:") rest = "//" + rest.replace(/^\/*/, "");
  }
  if (rest.startsWith("//")) {
    authority(rest.slice(2), record, special, input);
  } else if (rest.startsWith("/") || special) {
    record.path = normalizeSegments(rest.slice(1).split("/"), special);
  } else {
    record.path = percentEncode(rest, (c) => true);
    if (base === undefined && rest === "" && record.query === null && record.fragment === null) record.path = "";
  }
  return record;
}
function authority(text, record, special, input) {
  const end = text.search(special ? /[\/\\]/ : /\//);
  const auth = end < 0 ? text : text.slice(0, end);
  const path = end < 0 ? "" : text.slice(end);
  const at = auth.lastIndexOf("@");
  let hostPort = auth;
  if (at >= 0) {
    const userinfo = auth.slice(0, at);
    const colon = userinfo.indexOf(":");
    record.username = encodeUserinfo(colon < 0 ? userinfo : userinfo.slice(0, colon));
    record.password = colon < 0 ? "" : encodeUserinfo(userinfo.slice(colon + 1));
    hostPort = auth.slice(at + 1);
  }
  const port = /:(\d*)$/.exec(hostPort);
  if (port && !(hostPort[0] === "[" && hostPort.lastIndexOf("]") > port.index)) {
    hostPort = hostPort.slice(0, port.index);
    if (port[1] !== "") {
      const number = Number(port[1]);
      if (number > 65535) throw invalid(input);
      record.port = String(number) === SPECIAL[record.protocol] ? "" : String(number);
    }
  } else if (/:/.test(hostPort.replace(/^\[.*\]/, ""))) {
    throw invalid(input);
  }
  record.hostname = record.protocol === "file:" && hostPort === "localhost" ? "" : parseHost(hostPort, special && record.protocol !== "file:", input);
  record.hasHost = true;
  record.path = path === "" ? (special ? [""] : []) : normalizeSegments(path.slice(1).split(special ? /[\/\\]/ : "/"), special);
}
function relative(text, base, record) {
  const special = base.protocol in SPECIAL;
  if (typeof base.path === "string" && text !== "") throw invalid(text);
  record.protocol = base.protocol;
  if (special) text = text.replace(/\\/g, "/");
  if (text.startsWith("//")) {
    const queryAt = text.indexOf("?");
    if (queryAt >= 0) {
      record.query = encodeQuery(text.slice(queryAt + 1), special);
      text = text.slice(0, queryAt);
    }
    authority(text.slice(2), record, special, text);
    return record;
  }
  for (const key of ["username", "password", "hostname", "port", "hasHost"]) record[key] = base[key];
  const queryAt = text.indexOf("?");
  if (queryAt >= 0) {
    record.query = encodeQuery(text.slice(queryAt + 1), special);
    text = text.slice(0, queryAt);
  }
  if (text === "") {
    record.path = typeof base.path === "string" ? base.path : base.path.slice();
    if (queryAt < 0) record.query = base.query;
    return record;
  }
  const segments = text.split("/");
  const merged = text.startsWith("/") ? segments.slice(1) : base.path.slice(0, -1).concat(segments);
  record.path = normalizeSegments(merged, special);
  return record;
}
function serializePath(record) {
  if (typeof record.path === "string") return record.path;
  return record.path.length ? "/" + record.path.join("/") : "";
}

const records = new WeakMap();
class URLSearchParams {
  constructor(init) {
    records.set(this, { list: [], url: null });
    if (init === undefined || init === null) return;
    const list = records.get(this).list;
    if (typeof init === "object" || typeof init === "function") {
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const items = Array.from(pair);
          if (items.length !== 2) throw new TypeError("URLSearchParams: each pair must have exactly two items");
          list.push([String(items[0]), String(items[1])]);
        }
      } else {
        for (const key of Object.keys(init)) list.push([key, String(init[key])]);
      }
    } else {
      list.push(...parseQuery(String(init).replace(/^\?/, "")));
    }
  }
  get size() { return records.get(this).list.length; }
  append(name, value) { records.get(this).list.push([String(name), String(value)]); update(this); }
  delete(name, value) {
    const state = records.get(this);
    state.list = state.list.filter(([n, v]) => !(n === String(name) && (value === undefined || v === String(value))));
    update(this);
  }
  get(name) {
    const found = records.get(this).list.find(([n]) => n === String(name));
    return found ? found[1] : null;
  }
  getAll(name) { return records.get(this).list.filter(([n]) => n === String(name)).map(([, v]) => v); }
  has(name, value) { return records.get(this).list.some(([n, v]) => n === String(name) && (value === undefined || v === String(value))); }
  set(name, value) {
    const state = records.get(this);
    const key = String(name);
    const at = state.list.findIndex(([n]) => n === key);
    if (at < 0) state.list.push([key, String(value)]);
    else {
      state.list[at] = [key, String(value)];
      state.list = state.list.filter(([n], i) => n !== key || i === at);
    }
    update(this);
  }
  sort() {
    const state = records.get(this);
    state.list = state.list.map((pair, i) => [pair, i])
      .sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([pair]) => pair);
    update(this);
  }
  forEach(callback, thisArg) { for (const [n, v] of records.get(this).list.slice()) callback.call(thisArg, v, n, this); }
  *entries() { for (const [n, v] of records.get(this).list.slice()) yield [n, v]; }
  *keys() { for (const [n] of records.get(this).list.slice()) yield n; }
  *values() { for (const [, v] of records.get(this).list.slice()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return records.get(this).list.map(([n, v]) => formEncode(n) + "=" + formEncode(v)).join("&"); }
  get [Symbol.toStringTag]() { return "URLSearchParams"; }
}
function parseQuery(text) {
  const list = [];
  for (const piece of text.split("&")) {
    if (piece === "") continue;
    const at = piece.indexOf("=");
    const name = at < 0 ? piece : piece.slice(0, at);
    const value = at < 0 ? "" : piece.slice(at + 1);
    list.push([decodeURIComponentLoose(name.replace(/\+/g, " ")), decodeURIComponentLoose(value.replace(/\+/g, " "))]);
  }
  return list;
}
function formEncode(text) {
  return percentEncode(String(text), (c) => /[A-Za-z0-9*\-._]/.test(c), true).replace(/%20/g, "+");
}
function update(params) {
  const url = records.get(params).url;
  if (!url) return;
  const text = params.toString();
  url.query = text === "" ? null : text;
}

const urls = new WeakMap();
class URL {
  constructor(url, base) {
    const baseRecord = base === undefined ? undefined : base instanceof URL ? urls.get(base) : parse(base);
    const record = parse(url, baseRecord);
    urls.set(this, record);
    record.params = new URLSearchParams(record.query || "");
    records.get(record.params).url = record;
  }
  static canParse(url, base) {
    try { new URL(url, base); return true; } catch { return false; }
  }
  static parse(url, base) {
    try { return new URL(url, base); } catch { return null; }
  }
  get href() {
    const r = urls.get(this);
    let out = r.protocol;
    if (r.hasHost) {
      out += "//";
      if (r.username || r.password) out += r.username + (r.password ? ":" + r.password : "") + "@";
      out += r.hostname + (r.port ? ":" + r.port : "");
    } else if (typeof r.path !== "string" && r.path.length > 1 && r.path[0] === "") {
      out += "/.";
    }
    return out + serializePath(r) + (r.query !== null ? "?" + r.query : "") + (r.fragment !== null ? "#" + r.fragment : "");
  }
  set href(value) {
    const record = parse(value);
    const params = urls.get(this).params;
    record.params = params;
    records.get(params).list = parseQuery(record.query || "");
    records.get(params).url = record;
    urls.set(this, record);
  }
  get origin() {
    const r = urls.get(this);
    return r.protocol in SPECIAL && r.protocol !== "file:" ? r.protocol + "//" + this.host : "null";
  }
  get protocol() { return urls.get(this).protocol; }
  set protocol(value) {
    const r = urls.get(this);
    const next = String(value).replace(/:.*$/, "").toLowerCase() + ":";
    if (/^[a-z][a-z0-9+.\-]*:$/.test(next) && (next in SPECIAL) === (r.protocol in SPECIAL)) {
      r.protocol = next;
      if (r.port === SPECIAL[next]) r.port = "";
    }
  }
  get username() { return urls.get(this).username; }
  set username(value) { const r = urls.get(this); if (r.hasHost && r.hostname) r.username = encodeUserinfo(String(value)); }
  get password() { return urls.get(this).password; }
  set password(value) { const r = urls.get(this); if (r.hasHost && r.hostname) r.password = encodeUserinfo(String(value)); }
  get host() { const r = urls.get(this); return r.hostname + (r.port ? ":" + r.port : ""); }
  set host(value) {
    const r = urls.get(this);
    try {
      const parsed = parse(r.protocol + "//" + String(value));
      r.hostname = parsed.hostname;
      r.port = parsed.port;
    } catch {}
  }
  get hostname() { return urls.get(this).hostname; }
  set hostname(value) {
    const r = urls.get(this);
    try { r.hostname = parse(r.protocol + "//" + String(value).replace(/[:\/?#].*$/, "")).hostname; } catch {}
  }
  get port() { return urls.get(this).port; }
  set port(value) {
    const r = urls.get(this);
    const digits = /^\d*/.exec(String(value))[0];
    if (digits === "") { if (String(value) === "") r.port = ""; return; }
    if (Number(digits) <= 65535) r.port = String(Number(digits)) === SPECIAL[r.protocol] ? "" : String(Number(digits));
  }
  get pathname() { return serializePath(urls.get(this)); }
  set pathname(value) {
    const r = urls.get(this);
    if (typeof r.path === "string") return;
    const text = String(value).replace(/^\//, "");
    r.path = normalizeSegments(text.split(r.protocol in SPECIAL ? /[\/\\]/ : "/"), r.protocol in SPECIAL);
  }
  get search() { const q = urls.get(this).query; return q === null || q === "" ? "" : "?" + q; }
  set search(value) {
    const r = urls.get(this);
    const text = String(value).replace(/^\?/, "");
    r.query = text === "" ? null : encodeQuery(text, r.protocol in SPECIAL);
    records.get(r.params).list = parseQuery(text);
  }
  get searchParams() { return urls.get(this).params; }
  get hash() { const f = urls.get(this).fragment; return f === null || f === "" ? "" : "#" + f; }
  set hash(value) {
    const text = String(value).replace(/^#/, "");
    urls.get(this).fragment = text === "" ? null : encodeFragment(text);
  }
  toString() { return this.href; }
  toJSON() { return this.href; }
  get [Symbol.toStringTag]() { return "URL"; }
}
return { URL, URLSearchParams };
})`;
