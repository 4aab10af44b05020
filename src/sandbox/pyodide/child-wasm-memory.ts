// The wasm memory of the child's Pyodide instances: one memory reused from instance to instance, once the old
// instance is gone. Part of the child: erasable syntax and node: builtins only, intrinsics captured when this
// module loads, before any guest code runs.
//
// pyodide.asm.wasm defines its memory (480 pages, the snapshot's 30 MiB), so V8 made a new one at every
// instantiation: a reset mapped a fresh 30 MiB, faulted in and zeroed each page the restore and the next run
// touched (~8,000 pages), and its GC unmapped the old memory's. Here the module's bytes are rewritten, once per
// process, to import the same memory instead (`importingMemory`), and each build is handed one: the previous
// instance's when that instance has been collected and its memory has not grown, else a new one. Reusing it
// is safe only because of both conditions:
// - Collected: no function of the old instance can run any more (a function, a table or a pending JSPI
//   stack of it would keep it alive), so nothing of the old interpreter writes into the new one's memory
//   (a PyProxy's finalizer, a timer's callback). A reset's one full GC (child-heap.ts) runs just before the
//   instance is made, after the child has dropped the old one (child.ts), and a weak reference says whether
//   it went.
// - Not grown: the snapshot restore (child-sparse-restore.ts) then writes every byte of it, whatever the old
//   interpreter left there, as the snapshot has it. A memory that grew is left to the GC, not kept resident.

import { Buffer } from "node:buffer";
import type { MemoryUse } from "./bridge.ts";

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const IMPORT_SECTION = 2;
const MEMORY_SECTION = 5;
const MEMORY_KIND = 2;
/** The import's module and name; Emscripten's own imports are under "env", "GOT.mem", "GOT.func", "wasi_...". */
export const MEMORY_IMPORT_MODULE = "ptc";
const MEMORY_IMPORT_NAME = "memory";
export const WASM_PAGE = 65_536;

type WasmMemory = { readonly buffer: ArrayBuffer };
type MemoryConstructor = new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
const WasmMemoryType = (globalThis as unknown as { WebAssembly: { Memory: MemoryConstructor } }).WebAssembly.Memory;
const bufferOf = Reflect.getOwnPropertyDescriptor(WasmMemoryType.prototype, "buffer")?.get as (
  this: WasmMemory,
) => ArrayBuffer;
const Refs = WeakRef;
const derefOf = WeakRef.prototype.deref;
const { apply } = Reflect;
const Bytes = Uint8Array;
const fill = (Reflect.getPrototypeOf(Int8Array) as { prototype: { fill: (value: number) => unknown } }).prototype.fill;

export interface MemoryLimits {
  /** Pages. */
  initial: number;
  /** Pages; undefined for none. */
  maximum: number | undefined;
}

/** Reads an unsigned LEB128 at `at`: its value and the offset after it. */
function readLeb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  let offset = at;
  for (;;) {
    const byte = bytes[offset++];
    if (byte === undefined || scale > 2 ** 35) throw new Error("truncated LEB128");
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, offset];
    scale *= 128;
  }
}

function leb(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    const low = rest % 128;
    rest = Math.floor(rest / 128);
    out.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return out;
}

const name = (text: string): number[] => [...leb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];

/** Skips one import's description after its kind byte; null for a kind this does not know. */
function skipImportDescription(bytes: Uint8Array, kind: number, at: number): number | null {
  switch (kind) {
    case 0: // function: a type index
      return readLeb(bytes, at)[1];
    case 1: {
      // table: a reference type, then limits
      const flags = bytes[at + 1] ?? 0xff;
      let offset = readLeb(bytes, at + 2)[1];
      if (flags & 1) offset = readLeb(bytes, offset)[1];
      return flags > 1 ? null : offset;
    }
    case 3: // global: a value type and mutability
      return at + 2;
    case 4: // tag: an attribute and a type index
      return readLeb(bytes, at + 1)[1];
    default:
      return null;
  }
}

/**
 * `bytes` (a wasm module) with its one defined memory turned into an import (`ptc.memory`) of the same limits,
 * and those limits; null for a module of another shape (an imported memory, several, a shared or 64-bit one,
 * no import section), which is then used as it is. Indices are unchanged: the memory stays memory 0, and a
 * memory import shifts no other index space.
 */
export function importingMemory(bytes: Uint8Array): { bytes: Uint8Array; limits: MemoryLimits } | null {
  try {
    if (bytes.length < 8 || WASM_MAGIC.some((byte, index) => bytes[index] !== byte)) return null;
    let imports: { start: number; end: number; contentStart: number; count: number; entriesStart: number } | null =
      null;
    let memory: { start: number; end: number; limits: MemoryLimits } | null = null;
    for (let at = 8; at < bytes.length; ) {
      const id = bytes[at] as number;
      const [size, contentStart] = readLeb(bytes, at + 1);
      const end = contentStart + size;
      if (end > bytes.length) return null;
      if (id === IMPORT_SECTION) {
        const [count, entriesStart] = readLeb(bytes, contentStart);
        let offset = entriesStart;
        for (let index = 0; index < count; index++) {
          const [moduleLength, afterModuleLength] = readLeb(bytes, offset);
          const [fieldLength, afterFieldLength] = readLeb(bytes, afterModuleLength + moduleLength);
          const kind = bytes[afterFieldLength + fieldLength] as number;
          if (kind === MEMORY_KIND) return null;
          const next = skipImportDescription(bytes, kind, afterFieldLength + fieldLength + 1);
          if (next === null) return null;
          offset = next;
        }
        if (offset !== end) return null;
        imports = { start: at, end, contentStart, count, entriesStart };
      } else if (id === MEMORY_SECTION) {
        const [count, limitsStart] = readLeb(bytes, contentStart);
        const flags = bytes[limitsStart];
        if (count !== 1 || (flags !== 0 && flags !== 1)) return null;
        const [initial, afterInitial] = readLeb(bytes, limitsStart + 1);
        const [maximum, afterMaximum] = flags === 1 ? readLeb(bytes, afterInitial) : [undefined, afterInitial];
        if (afterMaximum !== end) return null;
        memory = { start: at, end, limits: { initial, maximum } };
      }
      at = end;
    }
    if (imports === null || memory === null || memory.start < imports.end) return null;
    const { initial, maximum } = memory.limits;
    const entry = [
      ...name(MEMORY_IMPORT_MODULE),
      ...name(MEMORY_IMPORT_NAME),
      MEMORY_KIND,
      maximum === undefined ? 0 : 1,
      ...leb(initial),
      ...(maximum === undefined ? [] : leb(maximum)),
    ];
    const count = leb(imports.count + 1);
    const contentLength = count.length + (imports.end - imports.entriesStart) + entry.length;
    const header = [IMPORT_SECTION, ...leb(contentLength), ...count];
    const out = new Bytes(
      bytes.length -
        (memory.end - memory.start) -
        (imports.entriesStart - imports.start) +
        header.length +
        entry.length,
    );
    let written = 0;
    const put = (part: ArrayLike<number>) => {
      out.set(part, written);
      written += part.length;
    };
    put(bytes.subarray(0, imports.start));
    put(header);
    put(bytes.subarray(imports.entriesStart, imports.end));
    put(entry);
    put(bytes.subarray(imports.end, memory.start));
    put(bytes.subarray(memory.end));
    if (written !== out.length) return null;
    return { bytes: out, limits: memory.limits };
  } catch {
    return null;
  }
}

/** The memory handed to the latest instance, and that instance, weakly. */
let current: { memory: WasmMemory; instance: WeakRef<object> | null } | null = null;
let lastUse: MemoryUse = "new";

/** Whether the latest build got a new memory or its predecessor's (the ready frame reports it). */
export function lastMemoryUse(): MemoryUse {
  return lastUse;
}

const PAGE = 4096;
const BLOCK = 16 * PAGE;
const ZEROS = new Bytes(BLOCK);
const compare = Buffer.compare;

/**
 * Zeroes every page of `memory` that is not zero, and only those: the memory is then as a new one is, and a page
 * no interpreter touched stays unmapped (writing zeros over all 30 MiB would make every page of it resident).
 */
function clear(memory: Uint8Array): void {
  for (let block = 0; block < memory.length; block += BLOCK) {
    const blockEnd = Math.min(block + BLOCK, memory.length);
    if (compare(memory.subarray(block, blockEnd), ZEROS.subarray(0, blockEnd - block)) === 0) continue;
    for (let page = block; page < blockEnd; page += PAGE) {
      const pageEnd = Math.min(page + PAGE, blockEnd);
      const bytes = memory.subarray(page, pageEnd);
      if (compare(bytes, ZEROS.subarray(0, pageEnd - page)) !== 0) apply(fill, bytes, [0]);
    }
  }
}

/**
 * The memory for the instance about to be made, once `collect` has run (a full GC): the previous instance's,
 * zeroed, if that instance was collected and its memory is still `limits.initial` pages, else a new one. A
 * memory that grew is let go before `collect`, which frees it.
 */
export function memoryForInstance(limits: MemoryLimits, collect: () => void): WasmMemory {
  const initialBytes = limits.initial * WASM_PAGE;
  if (current !== null && apply(bufferOf, current.memory, []).byteLength !== initialBytes) current = null;
  collect();
  const previous = current;
  if (previous !== null && previous.instance !== null && apply(derefOf, previous.instance, []) === undefined) {
    lastUse = "reused";
    clear(new Bytes(apply(bufferOf, previous.memory, [])));
    current = { memory: previous.memory, instance: null };
    return previous.memory;
  }
  lastUse = "new";
  const memory = new WasmMemoryType(
    limits.maximum === undefined ? { initial: limits.initial } : { initial: limits.initial, maximum: limits.maximum },
  );
  current = { memory, instance: null };
  return memory;
}

/** The instance made with the memory `memoryForInstance` gave last. */
export function instanceMade(instance: object): void {
  if (current !== null) current.instance = new Refs(instance);
}
