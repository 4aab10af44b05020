// Intrinsics the sandbox child's protocol code (and the bridge, bridge.ts) uses, captured when this module
// is first imported, before any guest code runs. Part of the child: erasable syntax and node: builtins only
// (see child.ts). The host imports it too, through the bridge; there the captures are plain aliases.
// The guest shares this realm and can replace what it reaches (js.JSON.stringify, String.prototype
// methods through js.Object('s'), Object.prototype.toJSON, Math.max...). The protocol code below uses
// only these, captured before any guest code runs, and builds frames from primitives (no toJSON).
export const { parse: parseJson, stringify: stringifyJson } = JSON;
export const { max: maxOf, round } = Math;
export const { isSafeInteger } = Number;
export const toNumber = Number;
const callBound = Function.prototype.call.bind(Function.prototype.call) as (
  method: (...args: never[]) => unknown,
  self: unknown,
  ...args: unknown[]
) => unknown;
export const uncurry =
  <A extends unknown[], R>(method: (...args: A) => R) =>
  (self: unknown, ...args: A): R =>
    callBound(method as never, self, ...args) as R;
export const indexOf = uncurry(String.prototype.indexOf);
/** A wasm memory's buffer as it is now (grown: a new one): `WebAssembly.Memory.prototype.buffer`'s getter. */
export const wasmMemoryBuffer = uncurry(
  Reflect.getOwnPropertyDescriptor(
    (globalThis as unknown as { WebAssembly: { Memory: { prototype: object } } }).WebAssembly.Memory.prototype,
    "buffer",
  )?.get as () => ArrayBuffer,
) as (memory: object) => ArrayBuffer;
export const sliceText = uncurry(String.prototype.slice);
export const subarray = uncurry(Uint8Array.prototype.subarray);
export const { apply: reflectApply, construct: reflectConstruct, get: reflectGet } = Reflect;
export const promiseThen = uncurry(Promise.prototype.then) as (
  promise: unknown,
  onFulfilled: () => void,
  onRejected: (error: unknown) => void,
) => unknown;

export const quote = (text: string): string => stringifyJson(text);
export const dropWaiting = uncurry(Map.prototype.delete) as (map: Map<number, unknown>, key: number) => boolean;
export const getWaiting = uncurry(Map.prototype.get) as <T>(map: Map<number, T>, key: number) => T | undefined;
export const putWaiting = uncurry(Map.prototype.set) as <T>(map: Map<number, T>, key: number, value: T) => unknown;
export const clearWaiting = uncurry(Map.prototype.clear) as (map: Map<number, unknown>) => void;
/** Ends the child: captured before guest code runs (the child deletes `process` from the guest's globals). */
export const exit = process.exit.bind(process);
export const setAdd = uncurry(Set.prototype.add) as (set: Set<number>, key: number) => Set<number>;
export const setDelete = uncurry(Set.prototype.delete) as (set: Set<number>, key: number) => boolean;
export const setClear = uncurry(Set.prototype.clear) as (set: Set<number>) => void;
