// Restoring the memory snapshot without touching its zero pages. Part of the child: erasable syntax and node:
// builtins only, intrinsics captured when this module loads, before any guest code runs.
//
// Pyodide restores a snapshot with one `HEAP8.set(snapshot)` over the fresh wasm memory: every page of the
// 30 MiB is written, so every page becomes resident, though half of them (4,000 of 7,680 pages: the unused
// C stack, free heap) are zeros. A fresh wasm memory is already zeros, and a page nobody writes costs no
// memory, so the copy here skips the snapshot's zero pages where the memory's page is zero too (read, not
// written: reading an untouched page maps the kernel's shared zero page). Every byte of the memory ends as
// the snapshot has it, as with Pyodide's copy. Measured (pool of 4, as `npm run bench`): the wasm memory's
// resident share 30 -> ~15 MiB per warm sandbox; the scan costs a start or reset ~3 ms.
import { Buffer } from "node:buffer";

const PAGE = 4096;
const ZERO_PAGE = new Uint8Array(PAGE);
const compare = Buffer.compare;
const TypedArrays = Reflect.getPrototypeOf(Int8Array) as { prototype: { set: (source: unknown, at?: number) => void } };
const copy = TypedArrays.prototype.set;
const Bytes = Uint8Array;
const { apply, defineProperty, deleteProperty } = Reflect;
const { isView } = ArrayBuffer;

type View = { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };

const isZero = (bytes: Uint8Array, from: number, to: number): boolean =>
  compare(bytes.subarray(from, to), to - from === PAGE ? ZERO_PAGE : ZERO_PAGE.subarray(0, to - from)) === 0;

/** Writes `source` over the start of `target` page by page, leaving alone the pages both have zero. */
function copySparse(target: Uint8Array, source: Uint8Array): void {
  let run = 0;
  const flush = (end: number) => {
    if (end > run) apply(copy, target, [source.subarray(run, end), run]);
  };
  for (let at = 0; at < source.length; at += PAGE) {
    const end = Math.min(at + PAGE, source.length);
    if (isZero(source, at, end) && isZero(target, at, end)) {
      flush(at);
      run = end;
    }
  }
  flush(source.length);
}

/**
 * Runs `build` (a Pyodide load, during which no guest code runs) with `Int8Array.prototype.set` copying
 * sparsely when its source is a view of `snapshot` written at the start of a memory at least as long (Pyodide's
 * restore: `HEAP8.set(snapshot.subarray(header))`); every other call is the intrinsic's. The realm's
 * `Int8Array.prototype` is as it was (no own `set`) when `build` settles.
 */
export async function restoringSparsely<T>(snapshot: Uint8Array | null, build: () => Promise<T>): Promise<T> {
  if (snapshot === null) return build();
  const snapshotBuffer = snapshot.buffer;
  function set(this: View, source: unknown, at?: number): void {
    const view = source as View;
    if (!isView(source) || view.buffer !== snapshotBuffer || (at ?? 0) !== 0 || view.byteLength > this.byteLength) {
      apply(copy, this, [source, at]);
      return;
    }
    copySparse(
      new Bytes(this.buffer, this.byteOffset, this.byteLength),
      new Bytes(view.buffer, view.byteOffset, view.byteLength),
    );
  }
  defineProperty(Int8Array.prototype, "set", { value: set, writable: true, enumerable: false, configurable: true });
  try {
    return await build();
  } finally {
    deleteProperty(Int8Array.prototype, "set");
  }
}
