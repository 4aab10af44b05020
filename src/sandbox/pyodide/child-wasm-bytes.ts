// Freeing pyodide.asm.wasm's bytes once they are compiled or matched. Part of the child: erasable syntax and
// node: builtins only, intrinsics captured when this module loads, before any guest code runs.
//
// Pyodide reads the 9.6 MB module file at each load and keeps the bytes (a promise its instantiate hook
// closes over) for the instance's life, though nothing reads them after `WebAssembly.instantiate`, which takes
// its own copy of them when called (or, with the module kept, hashes them: child-wasm-module.ts). Detaching
// the buffer right after that call frees those 9.6 MB of every warm sandbox.

type WasmApi = { instantiate(source: unknown, imports?: object): Promise<unknown> };
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const { apply, defineProperty, getOwnPropertyDescriptor } = Reflect;
const { isView } = ArrayBuffer;
const ArrayBufferType = ArrayBuffer;
// ES2024 `transfer` detaches a buffer and frees its memory now; a Node without it keeps the bytes.
const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer, length: number) => ArrayBuffer }).transfer;

/** The whole buffer `source` views (or is), or null when it views a part of one (someone else's bytes). */
function wholeBuffer(source: unknown): ArrayBuffer | null {
  if (source instanceof ArrayBufferType) return source;
  if (!isView(source)) return null;
  const view = source as { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  return whole && view.buffer instanceof ArrayBufferType ? view.buffer : null;
}

/**
 * Runs `build` (a Pyodide load, during which no guest code runs) with `WebAssembly.instantiate` detaching the
 * bytes it is given once it has taken them; the `instantiate` in place before (the realm's, or
 * child-wasm-module.ts's) is back when `build` settles.
 */
export async function releasingWasmBytes<T>(build: () => Promise<T>): Promise<T> {
  const descriptor = getOwnPropertyDescriptor(wasm, "instantiate") as PropertyDescriptor;
  const instantiate = descriptor.value as WasmApi["instantiate"];
  function instantiateReleasing(source: unknown, imports?: object): Promise<unknown> {
    const instantiating = apply(instantiate, wasm, [source, imports]) as Promise<unknown>;
    const buffer = transfer ? wholeBuffer(source) : null;
    if (buffer !== null && buffer.byteLength > 0)
      (transfer as (this: ArrayBuffer, length: number) => ArrayBuffer).call(buffer, 0);
    return instantiating;
  }
  defineProperty(wasm, "instantiate", { ...descriptor, value: instantiateReleasing });
  try {
    return await build();
  } finally {
    defineProperty(wasm, "instantiate", descriptor);
  }
}
