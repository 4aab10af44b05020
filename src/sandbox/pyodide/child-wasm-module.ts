// The compiled Pyodide module, kept for the child's life. Part of the child: erasable syntax and node:
// builtins only, intrinsics captured when this module loads, before any guest code runs.
//
// Pyodide compiles pyodide.asm.wasm at each loadPyodide (`WebAssembly.instantiate` of the file's bytes).
// V8 shares compiled code between compiles of the same bytes only while a module of them is alive, and a
// reset collects the old instance before it builds the new one (child-instance.ts): so every reset decoded,
// validated and compiled the 9 MB module again and tiered its hot functions up again. That was ~70% of a
// reset's CPU: 1,000 ms a reset, 630 of it on V8's worker threads (BENCHMARKS.md, "Resets").
// Instead the first build's module is kept, with the code the start-up warm-up tiered up, and every later
// build instantiates from it. A module is code only: each instance still gets its own memory, table and
// globals (Pyodide creates them and passes them in as imports), so nothing of one instance's state reaches
// the next. The wrapper is installed only while a build runs, when no guest code can run.

import * as nodeCrypto from "node:crypto";

type WasmApi = { instantiate(source: unknown, imports?: object): Promise<unknown> };
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const instantiate = wasm.instantiate;
const descriptor = Reflect.getOwnPropertyDescriptor(wasm, "instantiate") as PropertyDescriptor;
const { isView } = ArrayBuffer;
const UnsignedBytes = Uint8Array;
const { apply } = Reflect;
const then = Function.prototype.call.bind(Promise.prototype.then) as (
  promise: Promise<unknown>,
  onFulfilled: (value: unknown) => unknown,
) => Promise<unknown>;

type Bytes = { byteLength: number; buffer: ArrayBufferLike; byteOffset: number };

function bytesOf(source: unknown): Uint8Array | null {
  if (source instanceof ArrayBuffer) return new UnsignedBytes(source);
  if (!isView(source)) return null;
  const view = source as Bytes;
  return new UnsignedBytes(view.buffer, view.byteOffset, view.byteLength);
}

// node:crypto's one-shot hash (Node >= 21.7), captured now: SHA-256 of the 9 MB module takes 5.6 ms, against
// the ~700 ms of CPU a compile and its tier-up cost. A Node without it keeps nothing (compiles each time).
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "hex") => string }).hash;
const digestOf = (bytes: Uint8Array): string => (oneShotHash ? oneShotHash("sha256", bytes, "hex") : "");

/** The first module compiled from bytes (Pyodide's main module: with a snapshot, the only one). */
let kept: { module: unknown; length: number; digest: string } | null = null;

const isKeptSource = (bytes: Uint8Array): boolean =>
  kept !== null && bytes.length === kept.length && digestOf(bytes) === kept.digest;

function instantiateKeeping(source: unknown, imports?: object): Promise<unknown> {
  const bytes = bytesOf(source);
  if (bytes === null) return apply(instantiate, wasm, [source, imports]) as Promise<unknown>;
  if (kept !== null && isKeptSource(bytes)) {
    const { module } = kept;
    return then(apply(instantiate, wasm, [module, imports]) as Promise<unknown>, (instance) => ({ instance, module }));
  }
  const keep = kept === null && oneShotHash ? { length: bytes.length, digest: digestOf(bytes) } : null;
  return then(apply(instantiate, wasm, [source, imports]) as Promise<unknown>, (result) => {
    const module = (result as { module?: unknown }).module;
    if (keep !== null && kept === null && module !== undefined) kept = { module, ...keep };
    return result;
  });
}

/**
 * Runs `build` (a Pyodide load, during which no guest code runs) with `WebAssembly.instantiate` keeping the
 * first module compiled from bytes and instantiating from it when the same bytes come again; the realm's own
 * `instantiate` is back when `build` settles.
 */
export async function keepingWasmModule<T>(build: () => Promise<T>): Promise<T> {
  Reflect.defineProperty(wasm, "instantiate", { ...descriptor, value: instantiateKeeping });
  try {
    return await build();
  } finally {
    Reflect.defineProperty(wasm, "instantiate", descriptor);
  }
}
