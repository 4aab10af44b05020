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
// still gets its own table and globals (Pyodide creates them and passes them in as imports), and a memory as
// a new one is (the first read's bytes are rewritten to import it: child-wasm-memory.ts), so nothing of one
// instance's state reaches the next. The wrappers are installed only while a build runs, when
// no guest code can run.

import * as fsPromises from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import {
  instanceMade,
  MEMORY_IMPORT_MODULE,
  type MemoryLimits,
  memoryForInstance,
  readImportingMemory,
} from "./child-wasm-memory.ts";

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
/** The module's memory limits when its bytes were rewritten to import its memory (child-wasm-memory.ts). */
let memoryLimits: MemoryLimits | null = null;
/** Runs just before the kept module is instantiated, before its memory is chosen (child-wasm-memory.ts). */
let beforeInstance: (() => void) | undefined;
/** Buffers read from the module file during builds: the bytes the module is compiled from. */
const moduleFileBuffers = new Buffers<ArrayBufferLike>();
/** What a build reads from the module file once a module is kept: an empty stand-in, one per build. */
const standIns = new Buffers<ArrayBufferLike>();

/**
 * `imports` with the memory the module file's instance is to import, when its bytes were rewritten so; `collect`
 * runs first either way (child-wasm-memory.ts chooses the memory once it has).
 */
function withMemory(imports: object | undefined, collect: () => void = () => {}): object | undefined {
  if (memoryLimits === null) {
    collect();
    return imports;
  }
  return { ...imports, [MEMORY_IMPORT_MODULE]: { memory: memoryForInstance(memoryLimits, collect) } };
}

function instantiateKeeping(source: unknown, imports?: object): Promise<unknown> {
  const buffer = bufferOf(source);
  if (buffer !== null && standIns.has(buffer) && kept !== null) {
    const module = kept;
    return then(
      apply(instantiate, wasm, [module, withMemory(imports, beforeInstance)]) as Promise<unknown>,
      (instance) => {
        instanceMade(instance as object);
        return { instance, module };
      },
    );
  }
  if (buffer === null || !moduleFileBuffers.has(buffer))
    return apply(instantiate, wasm, [source, imports]) as Promise<unknown>;
  return then(apply(instantiate, wasm, [source, withMemory(imports)]) as Promise<unknown>, (result) => {
    const { module, instance } = result as { module?: unknown; instance?: object };
    if (kept === null && module !== undefined) kept = module;
    if (instance !== undefined) instanceMade(instance);
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
    // The file with its memory made an import (child-wasm-memory.ts), or, of another shape, as it is.
    const reading = then(readImportingMemory(modulePath), (rewritten) => {
      const read = rewritten as { bytes: Uint8Array; limits: MemoryLimits } | null;
      memoryLimits = read === null ? null : read.limits;
      return read === null ? (apply(readFile, fsExports, [path, ...rest]) as Promise<unknown>) : read.bytes;
    });
    return then(reading, (bytes) => {
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
