// The compiled Pyodide module, kept for the child's life. Part of the child: erasable syntax and node:
// builtins only, intrinsics captured when this module loads, before any guest code runs.
//
// Pyodide reads pyodide.asm.wasm and compiles it at each loadPyodide (`readFile` of node:fs/promises, then
// `WebAssembly.instantiate` of the bytes). V8 shares compiled code between compiles of the same bytes only
// while a module of them is alive, and a reset collects the old instance before it builds the new one
// (child-instance.ts): so every reset decoded, validated and compiled the 9.6 MB module again and tiered its
// hot functions up again. That was ~70% of a reset's CPU: 1,000 ms a reset, 630 of it on V8's worker threads
// (BENCHMARKS.md, "Resets"). Instead the first build's module is kept, with the code the start-up warm-up
// tiered up, and every later build instantiates from it without reading the file at all: reading it (a fresh
// 9.6 MB buffer) and hashing it to recognise it cost a reset ~10-15 ms. A module is code only: each instance
// still gets its own memory, table and globals (Pyodide creates them and passes them in as imports), so
// nothing of one instance's state reaches the next. The wrappers are installed only while a build runs, when
// no guest code can run.

import * as fsPromises from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";

type WasmApi = { instantiate(source: unknown, imports?: object): Promise<unknown> };
type ReadFile = (path: unknown, ...rest: unknown[]) => Promise<unknown>;
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const instantiate = wasm.instantiate;
const descriptor = Reflect.getOwnPropertyDescriptor(wasm, "instantiate") as PropertyDescriptor;
// The CommonJS exports of node:fs/promises: what `syncBuiltinESMExports` copies into the namespace every
// `import("node:fs/promises")` returns, Pyodide's included.
const fsExports = (fsPromises as unknown as { default: { readFile: ReadFile } }).default;
const readFile = fsExports.readFile;
const { isView } = ArrayBuffer;
const { apply } = Reflect;
const ArrayBufferType = ArrayBuffer;
const Buffers = WeakSet;
const then = Function.prototype.call.bind(Promise.prototype.then) as (
  promise: Promise<unknown>,
  onFulfilled: (value: unknown) => unknown,
) => Promise<unknown>;
const resolved = Promise.resolve.bind(Promise) as (value: unknown) => Promise<unknown>;
const UnsignedBytes = Uint8Array;

/** The buffer `source` is or views; null for anything else (a `WebAssembly.Module` passed in). */
function bufferOf(source: unknown): ArrayBufferLike | null {
  if (source instanceof ArrayBufferType) return source;
  return isView(source) ? (source as { buffer: ArrayBufferLike }).buffer : null;
}

/** The module compiled from the module file's bytes, once a build has compiled them. */
let kept: unknown = null;
/** Runs just before the kept module is instantiated (the new instance's memory exists by then). */
let beforeInstance: (() => void) | undefined;
/** Buffers read from the module file during builds: the bytes the module is compiled from. */
const moduleFileBuffers = new Buffers<ArrayBufferLike>();
/** What a build reads from the module file once a module is kept: an empty stand-in, one per build. */
const standIns = new Buffers<ArrayBufferLike>();

function instantiateKeeping(source: unknown, imports?: object): Promise<unknown> {
  const buffer = bufferOf(source);
  if (buffer !== null && standIns.has(buffer) && kept !== null) {
    const module = kept;
    beforeInstance?.();
    return then(apply(instantiate, wasm, [module, imports]) as Promise<unknown>, (instance) => ({ instance, module }));
  }
  const compiling = apply(instantiate, wasm, [source, imports]) as Promise<unknown>;
  if (buffer === null || !moduleFileBuffers.has(buffer)) return compiling;
  return then(compiling, (result) => {
    const module = (result as { module?: unknown }).module;
    if (kept === null && module !== undefined) kept = module;
    return result;
  });
}

function readFileKeeping(modulePath: string): ReadFile {
  return (path, ...rest) => {
    if (path !== modulePath) return apply(readFile, fsExports, [path, ...rest]) as Promise<unknown>;
    if (kept !== null) {
      const standIn = new ArrayBufferType(0);
      standIns.add(standIn);
      return resolved(new UnsignedBytes(standIn));
    }
    return then(apply(readFile, fsExports, [path, ...rest]) as Promise<unknown>, (bytes) => {
      const buffer = bufferOf(bytes);
      if (buffer !== null) moduleFileBuffers.add(buffer);
      return bytes;
    });
  };
}

function setReadFile(value: ReadFile): void {
  fsExports.readFile = value;
  syncBuiltinESMExports();
}

/** Whether a build has compiled the module file and kept its module (every build after the first must find one). */
export function moduleKept(): boolean {
  return kept !== null;
}

/**
 * Runs `build` (a Pyodide load, during which no guest code runs) with `WebAssembly.instantiate` keeping the
 * module compiled from `modulePath`'s bytes, and node:fs/promises' `readFile` of `modulePath` giving an empty
 * stand-in once one is kept, which `instantiate` answers with the kept module. Every other read and compile
 * is the realm's own. Both are back when `build` settles.
 */
export async function keepingWasmModule<T>(
  modulePath: string,
  build: () => Promise<T>,
  atInstance?: () => void,
): Promise<T> {
  beforeInstance = atInstance;
  Reflect.defineProperty(wasm, "instantiate", { ...descriptor, value: instantiateKeeping });
  setReadFile(readFileKeeping(modulePath));
  try {
    return await build();
  } finally {
    beforeInstance = undefined;
    Reflect.defineProperty(wasm, "instantiate", descriptor);
    setReadFile(readFile);
  }
}
