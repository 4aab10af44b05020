// What a JavaScript guest sees, as source evaluated inside its QuickJS context before the script: `tools`,
// `ToolError`, `text`, `image`, `console`, `setTimeout`/`clearTimeout`, a seeded `Math.random`, and the
// Web-platform globals of js-guest-web.ts. It runs in
// the guest's own interpreter (its own wasm memory), so nothing here can reach the child's realm: the only
// way out is the `host` object js-guest.ts passes in (a tool call, a write, a timer), and each of those
// checks what it gets. A guest that replaces what this code uses breaks only its own run. Part of the child:
// erasable syntax only.
import { WEB_GLOBALS } from "./js-guest-web.ts";

/** The name the script is evaluated under: error stacks and `line` refer to it. */
export const SCRIPT_NAME = "script.js";

/** The message of an error whose report could not be made (its getters threw, or memory ran out making it). */
export const UNREPORTABLE_MESSAGE = "the script threw a value that cannot be described";

/**
 * The script as the body of an async function, on the first line of the script (no newline added), so its
 * line numbers are the guest's own: top-level `await` and `return` both work; `import` statements do not.
 * A returned value other than `undefined` is written like `text(value)`.
 */
export function wrapScript(code: string): string {
  return `(async () => {${code}\n})`;
}

/**
 * The prelude: a function of `(host, config)` returning the entry points js-guest.ts calls. `host` has
 * `write(stream, text)`, `setTimer(delay)` -> id, `clearTimer(id)`, `done(errorJson)`, `sendCalls()`,
 * `source(library)` -> a library's source. A tool call is not a host function: it waits in the outbox,
 * which js-guest.ts empties (`takeCalls`) each time the interpreter returns, and before a write or the end,
 * so frames keep the script's order; its result comes back under its number (`receive`), the count of
 * calls made so far.
 * `config` is JSON: `{tools: [{name, allowedCallers?}], resultMode, maxInputDepth, seed}`.
 */
export const PRELUDE = `(function (host, configJson) {
"use strict";
const config = JSON.parse(configJson);
const parse = JSON.parse, stringify = JSON.stringify, ObjectKeys = Object.keys;
// The script may replace Promise.prototype.then, or give its errors getters that throw, before it ends: its
// end is still reported, through these, captured before it runs.
const apply = Reflect.apply, promiseThen = Promise.prototype.then;
// A script that replaces Map.prototype.get or String.prototype.slice, or the Promise constructor, breaks its
// own code, not the delivery of its results.
const MapProto = Map.prototype;
const mapGet = MapProto.get, mapSet = MapProto.set, mapDelete = MapProto.delete;
const get = (map, key) => apply(mapGet, map, [key]);
const set = (map, key, value) => apply(mapSet, map, [key, value]);
const drop = (map, key) => apply(mapDelete, map, [key]);
const PromiseCtor = Promise;
const stringSlice = String.prototype.slice;
const rest = (text) => apply(stringSlice, text, [1]);
const pending = new Map();
const timers = new Map();
// Calls made and not yet taken, as [name, inputJson, name, inputJson, ...]: one crossing out of the
// interpreter per turn rather than a host function per call (quickjs-emscripten's host function machinery,
// a scope, handles and a generator per call, was ~3.5 of ~14 µs of CPU a call in QuickJS, measured
// in-process on the sandbox's Node). Names hold no newline (checked below), inputs are JSON text (none either).
// At most this many calls wait there: past it they are handed over at once (\`host.sendCalls\`), so that the
// child's call limit still stops a loop that calls without awaiting (a Promise.all of 100,000) within a few
// dozen calls of the limit, long before their promises fill the interpreter's memory.
const OUTBOX_CALLS = 64;
let outbox = [];
let callsMade = 0;
const arrayPush = Array.prototype.push, arrayJoin = Array.prototype.join;

class ToolError extends Error {
  constructor(message, options) {
    super(String(message));
    this.code = options && typeof options.code === "string" ? options.code : "tool_error";
    this.tool = options && options.tool !== undefined ? options.tool : null;
  }
  get name() { return "ToolError"; }
}
class ToolTimeoutError extends ToolError {
  get name() { return "ToolTimeoutError"; }
}

function decode(payload) {
  if (config.resultMode === "text") return payload[0] === '"' ? parse(payload) : payload;
  return parse(payload);
}
function settle(reply, resolve, reject, tool, site) {
  if (reply[0] === "1") {
    resolve(decode(rest(reply)));
    return;
  }
  let info = {};
  try { info = parse(rest(reply)); } catch {}
  const ErrorType = info.type === "ToolTimeoutError" ? ToolTimeoutError : ToolError;
  const error = new ErrorType(info.message || "tool call failed", { code: info.code || "tool_error", tool });
  // Where the script made the call: the error itself is made here, when the result comes in.
  if (site) error.stack = site.stack;
  reject(error);
}

// The host refuses inputs nested deeper than MAX_TOOL_INPUT_DEPTH (sent as maxInputDepth): refused here
// as a catchable error, as Python's stubs do, before anything is serialized.
// The set of objects seen is made only below the first level: most calls pass flat arguments.
function tooDeep(value) {
  let level = [value];
  let seen = null;
  for (let depth = 0; depth < config.maxInputDepth; depth++) {
    const below = [];
    for (const item of level) {
      if (seen !== null) {
        if (seen.has(item)) continue;
        seen.add(item);
      }
      for (const key of ObjectKeys(item)) {
        const child = item[key];
        if (child !== null && typeof child === "object") below.push(child);
      }
    }
    if (below.length === 0) return false;
    if (seen === null) seen = new Set([value]);
    level = below;
  }
  return true;
}

function refused(tool, code, message) {
  return new PromiseCtor((_, reject) => reject(new ToolError(message, { code, tool })));
}
function callTool(name, args) {
  if (args === undefined) args = {};
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return refused(name, "invalid_tool_input", "tools." + name + "() takes one object of arguments");
  }
  if (config.maxInputDepth > 0 && tooDeep(args)) {
    return refused(name, "invalid_tool_input",
      "tools." + name + "(): arguments are nested more than " + config.maxInputDepth + " levels deep");
  }
  let text;
  try {
    text = stringify(args);
  } catch (error) {
    return refused(name, "invalid_tool_input",
      "tools." + name + "(): arguments are not JSON-serializable: " + (error && error.message));
  }
  // The child's own check, made here before the text is copied out of the interpreter (a length in
  // characters, as the child counts it).
  if (config.maxToolInputBytes > 0 && text.length > config.maxToolInputBytes) {
    return refused(name, "tool_input_too_large", "input of " + name + " exceeds " + config.maxToolInputBytes + " bytes");
  }
  apply(arrayPush, outbox, [name, text]);
  const id = ++callsMade;
  if (outbox.length >= 2 * OUTBOX_CALLS) host.sendCalls();
  const site = new Error();
  return new PromiseCtor((resolve, reject) => {
    set(pending, id, [resolve, reject, name, site]);
  });
}

const toolFunctions = Object.create(null);
const toolNames = [];
for (const tool of config.tools) {
  const name = tool.name;
  toolNames.push(name);
  const callers = tool.allowedCallers;
  if (name.indexOf("\\n") >= 0) {
    // A newline would break the outbox's framing; no registry name has one.
    toolFunctions[name] = function () { return refused(name, "tool_not_found", "Tool " + stringify(name) + " is not available"); };
  } else if (callers && callers.indexOf("code_execution") < 0) {
    const message = "tools." + name + " is not callable from code: allowed_callers is " + stringify(callers);
    toolFunctions[name] = function () { return refused(name, "tool_not_allowed", message); };
  } else {
    toolFunctions[name] = function (args) { return callTool(name, args); };
  }
}
const tools = new Proxy(toolFunctions, {
  get(target, key) {
    if (typeof key !== "string") return undefined;
    if (Object.prototype.hasOwnProperty.call(target, key)) return target[key];
    // Awaiting or printing \`tools\` looks these up: they are not tools.
    if (key === "then" || key === "toJSON" || key === "constructor") return undefined;
    return function () {
      const known = toolNames.length ? toolNames.join(", ") : "none";
      return refused(key, "tool_not_found", 'Tool "' + key + '" is not available; the tools are: ' + known);
    };
  },
  set() { return false; },
  defineProperty() { return false; },
  deleteProperty() { return false; },
});

// Output. text() pieces are separated by a newline, so a single text(JSON.stringify(x)) is exactly that
// JSON; console lines always start on their own line and end with one.
let openText = false;
// Characters written so far, per stream: a piece is cut just past the cap before it leaves the interpreter
// (the child's writer still sees it overflow, and reports the truncation), so a script's 500 MB string is
// never copied into the child's heap. A character is at least one byte, so the cut never hides bytes the
// cap would have kept.
const written = { stdout: 0, stderr: 0 };
function write(stream, piece) {
  const cap = config.maxOutputBytes;
  if (cap > 0) {
    const room = cap - written[stream];
    if (room < 0) return;
    if (piece.length > room + 1) piece = piece.slice(0, room + 1);
    written[stream] += piece.length;
  }
  host.write(stream, piece);
}
function format(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.name + ": " + value.message;
  if (value === undefined || typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") {
    return String(value);
  }
  try {
    const json = stringify(value);
    return json === undefined ? String(value) : json;
  } catch {
    return String(value);
  }
}
function text(...values) {
  write("stdout", (openText ? "\\n" : "") + values.map(format).join(" "));
  openText = true;
}
const IMAGE_DATA = /^data:image\\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
const IMAGE_URL = /^https?:\\/\\/[^\\s()<>]+$/;
function image(value) {
  const url = typeof value === "string" ? value : value && typeof value.url === "string" ? value.url : "";
  if (!IMAGE_DATA.test(url) && !IMAGE_URL.test(url)) {
    throw new TypeError("image() takes a data:image/(png|jpeg|gif|webp);base64 URL or an http(s) URL");
  }
  text("![image](" + url + ")");
}
// console.group indents the lines after it, two spaces a level, as Node's does.
let indent = "";
function line(stream) {
  return (...values) => {
    const prefix = openText && stream === "stdout" ? "\\n" : "";
    if (stream === "stdout") openText = false;
    let body = values.map(format).join(" ");
    if (indent) body = indent + body.split("\\n").join("\\n" + indent);
    write(stream, prefix + body + "\\n");
  };
}
const log = line("stdout"), logError = line("stderr");
const counts = new Map(), started = new Map();
const labelOf = (label) => (label === undefined ? "default" : String(label));
const elapsed = (label) => (started.has(label) ? [label + ": " + (Date.now() - started.get(label)) + "ms"] : null);
const console = Object.freeze({
  log, info: log, debug: log, dir: (value) => log(value), dirxml: log,
  warn: logError, error: logError,
  trace: (...values) => logError(["Trace:"].concat(values.map(format)).join(" ")),
  assert: (condition, ...values) => {
    if (!condition) logError(["Assertion failed" + (values.length ? ":" : "")].concat(values.map(format)).join(" "));
  },
  count: (label) => {
    const key = labelOf(label);
    counts.set(key, (counts.get(key) || 0) + 1);
    log(key + ": " + counts.get(key));
  },
  countReset: (label) => { counts.delete(labelOf(label)); },
  time: (label) => { started.set(labelOf(label), Date.now()); },
  timeLog: (label, ...values) => {
    const line = elapsed(labelOf(label));
    if (line) log(...line, ...values);
  },
  timeEnd: (label) => {
    const line = elapsed(labelOf(label));
    started.delete(labelOf(label));
    if (line) log(...line);
  },
  group: (...labels) => {
    if (labels.length) log(...labels);
    indent += "  ";
  },
  groupCollapsed: (...labels) => console.group(...labels),
  groupEnd: () => { indent = indent.slice(2); },
  // A table as Node draws it (js-guest-web.ts's "table" library, evaluated on first use).
  table: (data, columns) => {
    const drawn = data !== null && typeof data === "object" ? load("table")(data, columns) : null;
    if (drawn === null) log(data);
    else log(drawn);
  },
});

function setTimeout(callback, delay, ...args) {
  if (typeof callback !== "function") throw new TypeError("setTimeout() takes a function");
  let ms = Number(delay);
  ms = ms > 0 ? (ms < 2147483647 ? ms : 2147483647) : 0;
  const id = host.setTimer(ms);
  set(timers, id, () => callback(...args));
  return id;
}
function clearTimeout(id) {
  if (drop(timers, id)) host.clearTimer(id);
}

// Math.random from the run's seed (mulberry32 over the seed's two halves): a replay draws the same numbers.
let state = (config.seed % 4294967296) >>> 0;
let mix = Math.floor(config.seed / 4294967296) >>> 0;
Math.random = function random() {
  state = (state + 0x6d2b79f5 + mix) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
${WEB_GLOBALS}

const globals = { tools, ToolError, ToolTimeoutError, text, image, console, setTimeout, clearTimeout };
for (const name of ObjectKeys(globals)) {
  Object.defineProperty(globalThis, name, { value: globals[name], writable: true, configurable: true });
}

function lineOf(stack) {
  const match = /script\\.js:(\\d+)/.exec(stack);
  return match ? Number(match[1]) : null;
}
// The script's frames only (the prelude's are ptc's machinery), at most MAX_FRAMES of them: a stack
// overflow's stack repeats one frame thousands of times.
const MAX_FRAMES = 30;
function traceOf(error) {
  const frames = String(error.stack).split("\\n").filter((frame) => frame && frame.indexOf("ptc-prelude.js") < 0);
  const kept = frames.slice(0, MAX_FRAMES);
  if (frames.length > MAX_FRAMES) kept.push("    ... " + (frames.length - MAX_FRAMES) + " more frames");
  return String(error.name) + ": " + String(error.message) + "\\n" + kept.join("\\n");
}
function report(error) {
  const isError = error instanceof Error;
  const hasStack = isError && typeof error.stack === "string";
  const info = {
    type: isError ? String(error.name) : "Error",
    message: isError ? String(error.message) : format(error),
    traceback: hasStack ? traceOf(error) : "",
    line: hasStack ? lineOf(error.stack) : null,
  };
  if (error instanceof ToolError) info.code = String(error.code);
  // Cut to the report's caps here too (child-error-report.ts cuts again): a 100 MB message stays inside.
  const chars = config.errorReportChars;
  for (const field of ["type", "message", "traceback", "code"]) {
    if (typeof info[field] === "string" && info[field].length > chars[field] + 1) {
      info[field] = info[field].slice(0, chars[field] + 1);
    }
  }
  return stringify(info);
}

// What cannot be reported (a getter or toString that throws, a Proxy, no memory left) still ends the run.
const UNREPORTABLE = stringify({ type: "Error", message: "${UNREPORTABLE_MESSAGE}", traceback: "", line: null });
function safeReport(error) {
  try {
    return report(error);
  } catch {
    return UNREPORTABLE;
  }
}

return {
  run(main) {
    const ended = (value) => {
      try {
        if (value !== undefined) text(value);
      } catch (error) {
        host.done(safeReport(error));
        return;
      }
      host.done("");
    };
    apply(promiseThen, main(), [ended, (error) => host.done(safeReport(error))]);
  },
  receive(id, reply) {
    const waiting = get(pending, id);
    if (!waiting) return;
    drop(pending, id);
    settle(reply, waiting[0], waiting[1], waiting[2], waiting[3]);
  },
  takeCalls() {
    if (outbox.length === 0) return "";
    const calls = apply(arrayJoin, outbox, ["\\n"]);
    outbox = [];
    return calls;
  },
  fire(id) {
    const callback = get(timers, id);
    if (!callback) return "";
    drop(timers, id);
    try {
      callback();
    } catch (error) {
      return safeReport(error);
    }
    return "";
  },
  report: safeReport,
};
})`;
