// The wasm memory of the child's Pyodide instances: one memory reused from instance to instance, once the old
// instance is gone. Part of the child: erasable syntax and node: builtins only, intrinsics captured when this
// module loads, before any guest code runs.
//
// pyodide.asm.wasm defines its memory (480 pages, the snapshot's 30 MiB), so V8 made a new one at every
// instantiation: a reset mapped a fresh 30 MiB, faulted in and zeroed each page the restore and the next run
// touched, and its GC unmapped the old memory's (~10,000 page faults a reset). Here the module file is read,
// once per process, with its memory made an import of the same limits (`readImportingMemory`: the start of the
// file rewritten, the rest read into place), and each build is handed a memory: the previous instance's when
// both of these hold, else a new one.
// - The previous instance has been collected: no function, table or suspended JSPI stack of it is left to
//   write into the memory (a PyProxy's finalizer, a callback). A reset's one full GC (child-heap.ts) runs just
//   before the instance is made, after the child has dropped the old one (child.ts), and a weak reference to
//   the old instance says whether it went.
// - The memory never grew: it is then zeroed (its non-zero pages only: a page no interpreter touched stays
//   unmapped), so the new instance's data segments and constructors run on zeros as in a new memory, and the
//   snapshot restore (child-sparse-restore.ts) writes every byte of it. A memory that grew is let go before the
//   GC, which frees it.
// Measured (a sandbox's 20 resets, 4 pairs alternated against stop 30's new memory each time, this with
// child-table-slots.ts): ~10,000 -> ~2,200-3,400 page faults a reset, its CPU ~144 -> ~126 ms (BENCHMARKS.md,
// stop 31).

import { Buffer } from "node:buffer";
import { type FileHandle, open } from "node:fs/promises";
import type { MemoryUse } from "./bridge.ts";
import { wasmMemoryBuffer } from "./child-intrinsics.ts";

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

/** A module's start rewritten (`prefix`) to stand for its first `replaced` bytes; the rest of it is unchanged. */
export interface RewrittenStart {
  prefix: Uint8Array;
  replaced: number;
  limits: MemoryLimits;
}

/**
 * The start of a wasm module (`head`: its bytes up to at least the end of its memory section), rewritten so
 * that its one defined memory is an import (`ptc.memory`) of the same limits; null for a module of another
 * shape (an imported memory, several, a shared or 64-bit one, no import section before it), which is then
 * used as it is. Indices are unchanged: the memory stays memory 0, and a memory import shifts no other index
 * space. Only the sections up to the memory section are read: V8 validates the whole module when it compiles.
 */
export function importingMemoryAtStart(head: Uint8Array): RewrittenStart | null {
  try {
    if (head.length < 8 || WASM_MAGIC.some((byte, index) => head[index] !== byte)) return null;
    let imports: { start: number; end: number; count: number; entriesStart: number } | null = null;
    for (let at = 8; at < head.length; ) {
      const id = head[at] as number;
      const [size, contentStart] = readLeb(head, at + 1);
      const end = contentStart + size;
      if (id === IMPORT_SECTION) {
        if (end > head.length) return null;
        const [count, entriesStart] = readLeb(head, contentStart);
        let offset = entriesStart;
        for (let index = 0; index < count; index++) {
          const [moduleLength, afterModuleLength] = readLeb(head, offset);
          const [fieldLength, afterFieldLength] = readLeb(head, afterModuleLength + moduleLength);
          const kind = head[afterFieldLength + fieldLength] as number;
          if (kind === MEMORY_KIND) return null;
          const next = skipImportDescription(head, kind, afterFieldLength + fieldLength + 1);
          if (next === null) return null;
          offset = next;
        }
        if (offset !== end) return null;
        imports = { start: at, end, count, entriesStart };
      } else if (id === MEMORY_SECTION) {
        if (end > head.length || imports === null) return null;
        const [count, limitsStart] = readLeb(head, contentStart);
        const flags = head[limitsStart];
        if (count !== 1 || (flags !== 0 && flags !== 1)) return null;
        const [initial, afterInitial] = readLeb(head, limitsStart + 1);
        const [maximum, afterMaximum] = flags === 1 ? readLeb(head, afterInitial) : [undefined, afterInitial];
        if (afterMaximum !== end) return null;
        const entry = [
          ...name(MEMORY_IMPORT_MODULE),
          ...name(MEMORY_IMPORT_NAME),
          MEMORY_KIND,
          flags,
          ...leb(initial),
          ...(maximum === undefined ? [] : leb(maximum)),
        ];
        const countBytes = leb(imports.count + 1);
        const entries = head.subarray(imports.entriesStart, imports.end);
        const header = [IMPORT_SECTION, ...leb(countBytes.length + entries.length + entry.length), ...countBytes];
        const parts: ArrayLike<number>[] = [
          head.subarray(0, imports.start),
          header,
          entries,
          entry,
          head.subarray(imports.end, at),
        ];
        const prefix = new Bytes(parts.reduce((total, part) => total + part.length, 0));
        let written = 0;
        for (const part of parts) {
          prefix.set(part, written);
          written += part.length;
        }
        return { prefix, replaced: end, limits: { initial, maximum } };
      }
      at = end;
    }
    return null;
  } catch {
    return null;
  }
}

/** `bytes` (a whole wasm module) rewritten as `importingMemoryAtStart` says, in a new buffer; null as it says. */
export function importingMemory(bytes: Uint8Array): { bytes: Uint8Array; limits: MemoryLimits } | null {
  const start = importingMemoryAtStart(bytes);
  if (start === null) return null;
  const out = new Bytes(start.prefix.length + bytes.length - start.replaced);
  out.set(start.prefix, 0);
  out.set(bytes.subarray(start.replaced), start.prefix.length);
  return { bytes: out, limits: start.limits };
}

/** How much of a module file is read first, for its sections up to the memory's (Pyodide's end at ~37 KB). */
const HEAD_BYTES = 1 << 20;

/**
 * The module file at `path` read with its memory made an import, the rest of the file read straight into place
 * after the rewritten start (no copy of the 9.6 MB, and read off the main thread as `readFile` reads); null when
 * the file cannot be read so or is of another shape.
 */
export async function readImportingMemory(path: string): Promise<{ bytes: Uint8Array; limits: MemoryLimits } | null> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch {
    return null;
  }
  try {
    const { size } = await file.stat();
    const head = new Bytes(Math.min(size, HEAD_BYTES));
    if (!(await readFully(file, head, 0, head.length, 0))) return null;
    const start = importingMemoryAtStart(head);
    if (start === null) return null;
    const bytes = new Bytes(start.prefix.length + size - start.replaced);
    bytes.set(start.prefix, 0);
    if (!(await readFully(file, bytes, start.prefix.length, size - start.replaced, start.replaced))) return null;
    return { bytes, limits: start.limits };
  } catch {
    return null;
  } finally {
    await file.close();
  }
}

async function readFully(file: FileHandle, into: Uint8Array, at: number, length: number, position: number) {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(into, at + done, length - done, position + done);
    if (bytesRead <= 0) return false;
    done += bytesRead;
  }
  return true;
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
 * memory that grew is let go before `collect`, which frees it. This frame never holds the previous memory or
 * instance: V8 scans an interpreted frame's registers whole, dead ones included, and a grown memory read here
 * before the GC stayed alive through it (300 MB after the reset, in 5 of 6 resets).
 */
export function memoryForInstance(limits: MemoryLimits, collect: () => void): WasmMemory {
  letGoIfGrown(limits.initial * WASM_PAGE);
  collect();
  return memoryAfterCollection(limits);
}

function letGoIfGrown(initialBytes: number): void {
  if (current !== null && wasmMemoryBuffer(current.memory).byteLength !== initialBytes) current = null;
}

function memoryAfterCollection(limits: MemoryLimits): WasmMemory {
  const previous = current;
  if (previous !== null && previous.instance !== null && apply(derefOf, previous.instance, []) === undefined) {
    lastUse = "reused";
    clear(new Bytes(wasmMemoryBuffer(previous.memory)));
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
