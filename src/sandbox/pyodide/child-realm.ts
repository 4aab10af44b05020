// The JS realm the guest shares with the sandbox child, put back between executions (a reset, child.ts):
// guest Python reaches JS objects through the `js` module and every value Pyodide converts (`.constructor`,
// `prototype`, iterators), and could leave state there for the next execution, possibly another key's:
// `Object.prototype.polluted`, a replaced `Array.prototype.push` or `JSON.parse`, a property on a bridge
// function. The realm is not frozen: a script may patch it for its own run (and its container's later runs,
// which share the interpreter), and Pyodide assigns to intrinsics itself (Emscripten's `Math.cos.sig`,
// PythonError's `Error.stackTraceLimit`). Instead the child records, before any guest code runs, every
// object reachable from the language's globals and its own roots, with its prototype, extensibility and each
// own property's exact descriptor; a reset puts each back, or, when it cannot (the guest froze or sealed
// something, or defined a property it cannot delete), refuses, and the host kills the process.
// Part of the child: erasable syntax, and only intrinsics captured when this module loads.

// The language's own globals (those of a fresh `vm` context on Node 26, less `console` and `globalThis`):
// what guest code reaches through the `js` module and what Pyodide makes of Python values. Node's host
// objects (console, performance, EventTarget, streams) are not among them: the guest reaches none of them,
// and Node assigns to their prototypes' fields (EventEmitter's `_events`), which recording them would take for guest state.
const LANGUAGE_GLOBALS = [
  "Object",
  "Function",
  "Array",
  "Number",
  "parseFloat",
  "parseInt",
  "Boolean",
  "String",
  "Symbol",
  "Date",
  "Promise",
  "RegExp",
  "Error",
  "AggregateError",
  "EvalError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "TypeError",
  "URIError",
  "JSON",
  "Math",
  "Intl",
  "ArrayBuffer",
  "Atomics",
  "Uint8Array",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "BigUint64Array",
  "BigInt64Array",
  "Uint8ClampedArray",
  "Float32Array",
  "Float64Array",
  "Float16Array",
  "DataView",
  "Map",
  "BigInt",
  "Set",
  "Iterator",
  "WeakMap",
  "WeakSet",
  "Proxy",
  "Reflect",
  "FinalizationRegistry",
  "WeakRef",
  "decodeURI",
  "decodeURIComponent",
  "encodeURI",
  "encodeURIComponent",
  "escape",
  "unescape",
  "eval",
  "isFinite",
  "isNaN",
  "Temporal",
  "SuppressedError",
  "DisposableStack",
  "AsyncDisposableStack",
  "SharedArrayBuffer",
  "WebAssembly",
];

// Intrinsics reachable only through an instance of them, not as a global's property.
function hiddenIntrinsics(): unknown[] {
  const prototypeOf = Object.getPrototypeOf;
  const generator = function* () {};
  const asyncGenerator = async function* () {};
  return [
    prototypeOf([][Symbol.iterator]()),
    prototypeOf(new Map()[Symbol.iterator]()),
    prototypeOf(new Set()[Symbol.iterator]()),
    prototypeOf(""[Symbol.iterator]()),
    prototypeOf("".matchAll(/(?:)/g)),
    prototypeOf(generator),
    prototypeOf(generator()),
    prototypeOf(asyncGenerator),
    prototypeOf(asyncGenerator()),
    prototypeOf(async () => {}),
    prototypeOf(Uint8Array),
  ];
}

const {
  ownKeys,
  getOwnPropertyDescriptor,
  defineProperty,
  deleteProperty,
  getPrototypeOf,
  setPrototypeOf,
  isExtensible,
  get: reflectGet,
} = Reflect;
const { hasOwn, is: sameValue } = Object;
// RegExp's legacy static properties (RegExp.input, lastMatch, $1...) hold the last match in the realm.
const emptyPattern = /(?:)/;
const { exec: regexpExec } = RegExp.prototype;
const callBound = Function.prototype.call.bind(Function.prototype.call) as (...args: unknown[]) => unknown;
const DESCRIPTOR_FIELDS = ["value", "writable", "get", "set", "enumerable", "configurable"] as const;

interface ObjectRecord {
  object: object;
  prototype: object | null;
  extensible: boolean;
  keys: PropertyKey[];
  /** Null-prototype copies: defineProperty reads nothing a polluted Object.prototype could supply. */
  descriptors: PropertyDescriptor[];
}

let records: ObjectRecord[] = [];

function ownDescriptor(object: object, key: PropertyKey): PropertyDescriptor {
  const found = getOwnPropertyDescriptor(object, key) as PropertyDescriptor;
  const copy = { __proto__: null } as unknown as Record<string, unknown>;
  for (let index = 0; index < DESCRIPTOR_FIELDS.length; index++) {
    const field = DESCRIPTOR_FIELDS[index] as string;
    if (hasOwn(found, field)) copy[field] = (found as Record<string, unknown>)[field];
  }
  return copy as PropertyDescriptor;
}

/**
 * Records the realm as it is now: once, after the first instance is built and before any guest code runs.
 * `roots` are the child's own objects the guest reaches (the `js` module, the bridge and its functions).
 */
export function recordRealm(roots: readonly object[]): void {
  const seen = new Set<unknown>();
  const queue: object[] = [];
  const add = (value: unknown) => {
    if ((typeof value !== "object" || value === null) && typeof value !== "function") return;
    if (value === globalThis || seen.has(value)) return;
    seen.add(value);
    queue.push(value as object);
  };
  for (const name of LANGUAGE_GLOBALS) add(reflectGet(globalThis, name));
  for (const root of [...roots, ...hiddenIntrinsics()]) add(root);
  records = [];
  for (let object = queue.pop(); object !== undefined; object = queue.pop()) {
    const keys = ownKeys(object);
    const descriptors = keys.map((key) => ownDescriptor(object, key));
    for (const descriptor of descriptors) {
      add(descriptor.value);
      add(descriptor.get);
      add(descriptor.set);
    }
    const prototype = getPrototypeOf(object);
    add(prototype);
    records.push({ object, prototype, extensible: isExtensible(object), keys, descriptors });
  }
}

/** The number of objects recorded (for the child's diagnostics and tests). */
export function recordedObjects(): number {
  return records.length;
}

function sameDescriptor(current: PropertyDescriptor | undefined, recorded: PropertyDescriptor): boolean {
  if (current === undefined) return false;
  for (let index = 0; index < DESCRIPTOR_FIELDS.length; index++) {
    const field = DESCRIPTOR_FIELDS[index] as string;
    const has = hasOwn(current, field);
    if (has !== hasOwn(recorded, field)) return false;
    if (has && !sameValue((current as Record<string, unknown>)[field], (recorded as Record<string, unknown>)[field]))
      return false;
  }
  return true;
}

/**
 * Puts every recorded object back as recorded: properties the guest added are deleted, changed ones
 * redefined, prototypes reset. Returns null, or why the realm cannot be put back (the reset must fail).
 * Uses only index loops and captured functions: the guest may have replaced any method on the way.
 */
export function restoreRealm(): string | null {
  for (let index = 0; index < records.length; index++) {
    const record = records[index] as ObjectRecord;
    const { object, keys, descriptors } = record;
    const current = ownKeys(object);
    for (let at = 0; at < current.length; at++) {
      const key = current[at] as PropertyKey;
      let recorded = false;
      for (let other = 0; other < keys.length && !recorded; other++) recorded = keys[other] === key;
      if (!recorded && !deleteProperty(object, key)) return "the guest defined a property that cannot be deleted";
    }
    for (let at = 0; at < keys.length; at++) {
      const key = keys[at] as PropertyKey;
      const descriptor = descriptors[at] as PropertyDescriptor;
      if (sameDescriptor(getOwnPropertyDescriptor(object, key), descriptor)) continue;
      if (!defineProperty(object, key, descriptor)) return "the guest made a property impossible to put back";
    }
    if (getPrototypeOf(object) !== record.prototype && !setPrototypeOf(object, record.prototype)) {
      return "the guest changed a prototype for good";
    }
    if (record.extensible && !isExtensible(object)) return "the guest froze, sealed or locked an object";
  }
  callBound(regexpExec, emptyPattern, "");
  return null;
}
