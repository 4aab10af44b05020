// What the snapshot maker (child.ts, `make-snapshot`) writes to its stdout and the host (memory-snapshot.ts)
// reads: two lengths (u32, little-endian), then the memory snapshot, then V8's code cache of Pyodide's
// JavaScript (child-pyodide-js.ts; empty where this Node could not make one). Shared by both sides.

const HEADER_BYTES = 8;

export interface SnapshotOutput {
  snapshot: Uint8Array;
  codeCache: Uint8Array;
}

export function encodeSnapshotOutput({ snapshot, codeCache }: SnapshotOutput): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES + snapshot.length + codeCache.length);
  const header = new DataView(bytes.buffer);
  header.setUint32(0, snapshot.length, true);
  header.setUint32(4, codeCache.length, true);
  bytes.set(snapshot, HEADER_BYTES);
  bytes.set(codeCache, HEADER_BYTES + snapshot.length);
  return bytes;
}

/** The two parts, or null unless the lengths account for every byte. */
export function decodeSnapshotOutput(bytes: Uint8Array): SnapshotOutput | null {
  if (bytes.length < HEADER_BYTES) return null;
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const snapshotLength = header.getUint32(0, true);
  const codeCacheLength = header.getUint32(4, true);
  if (HEADER_BYTES + snapshotLength + codeCacheLength !== bytes.length) return null;
  const snapshotEnd = HEADER_BYTES + snapshotLength;
  return { snapshot: bytes.subarray(HEADER_BYTES, snapshotEnd), codeCache: bytes.subarray(snapshotEnd) };
}
