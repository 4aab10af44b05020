// Restoring the memory snapshot from its file, without touching its zero pages. Part of the child: erasable
// syntax and node: builtins only, intrinsics captured when this module loads, before any guest code runs.
//
// Pyodide restores a snapshot it is given as bytes with one `HEAP8.set(snapshot.subarray(dataOffset))` over
// the fresh wasm memory. Two costs are avoided here:
// - Every page of the 30 MiB would be written, so every page would become resident, though half of them
//   (4,000 of 7,680 pages: the unused C stack, free heap) are zeros. A fresh wasm memory is already zeros,
//   and a page nobody writes costs no memory, so the copy here skips the snapshot's zero pages where the
//   memory's page is zero too (read, not written: reading an untouched page maps the kernel's shared zero
//   page). Every byte of the memory ends as the snapshot has it. Measured (pool of 4, as `npm run bench`):
//   the wasm memory's resident share 30 -> ~15 MiB per warm sandbox.
// - Reading the whole file into a fresh 30 MiB buffer at each start and reset (faulting in 7,680 new pages,
//   ~6-20 ms, and V8 counting 30 MiB more of external memory towards its next GC). Pyodide gets a buffer
//   as long as the file, which sizes its memory, with only the header read into it: the rest of it is
//   never written, so never resident. The data goes from the file through one 1 MiB buffer to the memory.
import { Buffer } from "node:buffer";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const PAGE = 4096;
const CHUNK = 256 * PAGE;
const ZERO_PAGE = new Uint8Array(PAGE);
const compare = Buffer.compare;
const TypedArrays = Reflect.getPrototypeOf(Int8Array) as { prototype: { set: (source: unknown, at?: number) => void } };
const copy = TypedArrays.prototype.set;
const Bytes = Uint8Array;
const Words = Uint32Array;
const { apply, defineProperty, deleteProperty } = Reflect;
const { isView } = ArrayBuffer;
const fail = (why: string): never => {
  throw new Error(`memory snapshot: ${why}`);
};

type View = { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };

/** A snapshot file, open for one build: `bytes` is as long as the file, with only its header read in. */
export interface SnapshotFile {
  readonly bytes: Uint8Array;
  readonly dataOffset: number;
  readonly fd: number;
  /** Which file this is (device, inode, size, modification time): its pages' zero map is kept under it. */
  readonly identity: string;
}

/**
 * Which of the snapshot's data pages are zeros (1), found by the first restore from that file: the file does
 * not change for the child's life (the host writes a snapshot once, under a name of its contents), and comparing
 * each of its 7,680 pages with zeros again at every reset, and reading all of them, cost ~5-7 ms. Another file (a different identity) is
 * read whole again. With it, a restore reads only the runs of pages with data (~15 of 30 MiB): restoring the
 * snapshot into a fresh buffer, 25 times each, 3 alternated pairs, median ~13-15 -> ~7.7-7.9 ms.
 */
let zeroPages: { identity: string; map: Uint8Array } | null = null;

/**
 * Opens a snapshot file for a build: its length, and its header (Pyodide's: magic, data offset, header
 * length, build id, then a JSON header, all before the data offset). The caller closes it (`closeSnapshot`).
 */
export function openSnapshot(path: string): SnapshotFile {
  const fd = openSync(path, "r");
  try {
    const { size, dev, ino, mtimeMs } = fstatSync(fd);
    const bytes = new Bytes(size);
    if (size < 8) fail(`no header (${size} bytes)`);
    readFully(fd, bytes, 0, 8, 0);
    const dataOffset = new Words(bytes.buffer, 0, 2)[1] as number;
    if (dataOffset < 8 || dataOffset > size) fail(`no data offset in the header (${dataOffset}, ${size} bytes)`);
    readFully(fd, bytes, 8, dataOffset - 8, 8);
    return { bytes, dataOffset, fd, identity: `${dev}:${ino}:${size}:${mtimeMs}` };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

export function closeSnapshot(snapshot: SnapshotFile | null): void {
  if (snapshot !== null) closeSync(snapshot.fd);
}

function readFully(fd: number, into: Uint8Array, at: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const read = readSync(fd, into, at + done, length - done, position + done);
    if (read <= 0) fail("the file ended early");
    done += read;
  }
}

const isZero = (bytes: Uint8Array, from: number, to: number): boolean =>
  compare(bytes.subarray(from, to), to - from === PAGE ? ZERO_PAGE : ZERO_PAGE.subarray(0, to - from)) === 0;

/** Writes the snapshot's data over the start of `target` page by page, leaving alone the pages both have zero. */
function restoreFromFile(target: Uint8Array, snapshot: SnapshotFile, length: number): void {
  const known = zeroPages?.identity === snapshot.identity ? zeroPages.map : null;
  if (known !== null && known.length === Math.ceil(length / PAGE)) {
    restoreKnown(target, snapshot, length, known);
    return;
  }
  const map = new Bytes(Math.ceil(length / PAGE));
  const chunk = new Bytes(Math.min(CHUNK, length));
  for (let start = 0; start < length; start += CHUNK) {
    const end = Math.min(start + CHUNK, length);
    readFully(snapshot.fd, chunk, 0, end - start, snapshot.dataOffset + start);
    let run = start;
    const flush = (to: number) => {
      if (to > run) apply(copy, target, [chunk.subarray(run - start, to - start), run]);
    };
    for (let at = start; at < end; at += PAGE) {
      const pageEnd = Math.min(at + PAGE, end);
      const zero = isZero(chunk, at - start, pageEnd - start);
      map[at / PAGE] = zero ? 1 : 0;
      if (zero && isZero(target, at, pageEnd)) {
        flush(at);
        run = pageEnd;
      }
    }
    flush(end);
  }
  zeroPages = { identity: snapshot.identity, map };
}

/**
 * The same restore with the file's zero pages known: runs of pages with data read and copied (up to CHUNK at a
 * time), a zero page written only where the target's is not zero (what instantiation wrote there).
 */
function restoreKnown(target: Uint8Array, snapshot: SnapshotFile, length: number, map: Uint8Array): void {
  const chunk = new Bytes(Math.min(CHUNK, length));
  const pages = map.length;
  for (let page = 0; page < pages; ) {
    const at = page * PAGE;
    if (map[page] === 1) {
      const pageEnd = Math.min(at + PAGE, length);
      if (!isZero(target, at, pageEnd)) apply(copy, target, [ZERO_PAGE.subarray(0, pageEnd - at), at]);
      page++;
      continue;
    }
    let last = page + 1;
    while (last < pages && map[last] === 0 && (last - page) * PAGE < CHUNK) last++;
    const end = Math.min(last * PAGE, length);
    readFully(snapshot.fd, chunk, 0, end - at, snapshot.dataOffset + at);
    apply(copy, target, [chunk.subarray(0, end - at), at]);
    page = last;
  }
}

/**
 * Runs `build` (a Pyodide load given `snapshot.bytes`, during which no guest code runs) with
 * `Int8Array.prototype.set` restoring from the file when Pyodide copies the snapshot's data to the start of
 * its memory; any other copy out of `snapshot.bytes` fails the build (its data was never read in), and every
 * other call is the intrinsic's. The realm's `Int8Array.prototype` is as it was (no own `set`) when `build`
 * settles.
 */
export async function restoringSparsely<T>(snapshot: SnapshotFile | null, build: () => Promise<T>): Promise<T> {
  if (snapshot === null) return build();
  const snapshotBuffer = snapshot.bytes.buffer;
  const dataLength = snapshot.bytes.byteLength - snapshot.dataOffset;
  function set(this: View, source: unknown, at?: number): void {
    const view = source as View;
    if (!isView(source) || view.buffer !== snapshotBuffer) {
      apply(copy, this, [source, at]);
      return;
    }
    const whole = view.byteOffset === snapshot?.dataOffset && view.byteLength === dataLength;
    if (!whole || (at ?? 0) !== 0 || view.byteLength > this.byteLength) fail("an unexpected copy of its data");
    restoreFromFile(new Bytes(this.buffer, this.byteOffset, this.byteLength), snapshot as SnapshotFile, dataLength);
  }
  defineProperty(Int8Array.prototype, "set", { value: set, writable: true, enumerable: false, configurable: true });
  try {
    return await build();
  } finally {
    deleteProperty(Int8Array.prototype, "set");
  }
}
