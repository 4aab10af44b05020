// The WebAssembly memory cap, installed when the child loads, before any guest code: refusing wasm growth
// past the cap turns a memory bomb into Python's MemoryError (or QuickJS's out of memory: the cap applies to
// each wasm memory of the child, the JavaScript guest's too), and the process survives. Part
// of the child: erasable syntax, and only intrinsics captured here or in child-intrinsics.ts.
import { uncurry, wasmMemoryBuffer } from "./child-intrinsics.ts";

let capBytes = 0;
let limitHit = false;

type WasmMemory = { buffer: ArrayBuffer; grow(delta: number): number };
const wasm = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } }).WebAssembly;
const getter = (prototype: object, name: string) =>
  uncurry(Object.getOwnPropertyDescriptor(prototype, name)?.get as () => unknown);
const byteLength = getter(ArrayBuffer.prototype, "byteLength") as (buffer: ArrayBuffer) => number;
const growMemory = uncurry(wasm.Memory.prototype.grow);
wasm.Memory.prototype.grow = function grow(this: WasmMemory, delta: number): number {
  if (capBytes > 0 && byteLength(wasmMemoryBuffer(this)) + delta * 65536 > capBytes) {
    limitHit = true;
    throw new RangeError("ptc: sandbox memory limit reached");
  }
  return growMemory(this, delta);
};

/** Bytes of wasm memory allowed from now on; 0 leaves the cap as it is. */
export function setMemoryCap(bytes: number): void {
  if (bytes > 0) capBytes = bytes;
}

/** Whether a growth was refused since the last `resetMemoryLimitHit` (reported with the run's end). */
export function memoryLimitHit(): boolean {
  return limitHit;
}

export function resetMemoryLimitHit(): void {
  limitHit = false;
}
