import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  importingMemory,
  instanceMade,
  lastMemoryUse,
  memoryForInstance,
  readImportingMemory,
  WASM_PAGE,
} from "../../src/sandbox/pyodide/child-wasm-memory.js";

// The host's TypeScript has no DOM lib, so no WebAssembly types: the part used here.
type Memory = { buffer: ArrayBuffer; grow(pages: number): number };
type ImportEntry = { module: string; name: string; kind: string };
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      Module: { new (bytes: Uint8Array): object; imports(module: object): ImportEntry[] };
      Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
      Memory: new (descriptor: { initial: number; maximum?: number }) => Memory;
      validate(bytes: Uint8Array): boolean;
    };
  }
).WebAssembly;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const types = [0x01, 0x09, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00]; // () -> i32, (i32) -> ()
const importF = [0x02, 0x09, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x66, 0x00, 0x00]; // env.f: () -> i32
const functions = [0x03, 0x03, 0x02, 0x00, 0x01]; // load: type 0, store: type 1
const memory = (limits: number[]) => [0x05, limits.length + 1, 0x01, ...limits];
// exports load (func 1), store (func 2), memory (memory 0)
// biome-ignore format: one export a line
const exportsSection = [
  0x07, 0x19, 0x03,
  0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x01,
  0x05, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x00, 0x02,
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,
];
// load: i32.load at 8; store: i32.store of its argument at 8
const code = [
  0x0a, 0x13, 0x02, 0x07, 0x00, 0x41, 0x08, 0x28, 0x02, 0x00, 0x0b, 0x09, 0x00, 0x41, 0x08, 0x20, 0x00, 0x36, 0x02,
  0x00, 0x0b,
];
/** A module that imports a function and defines its memory with these limits (flags, then pages), as Pyodide's does. */
const defining = (limits: number[]) =>
  new Uint8Array([...header, ...types, ...importF, ...functions, ...memory(limits), ...exportsSection, ...code]);

test("a module's own memory becomes an import of the same limits, and its code uses the memory it is given", () => {
  for (const [limits, expected] of [
    [[0x01, 0x01, 0x03], { initial: 1, maximum: 3 }],
    [[0x00, 0x02], { initial: 2, maximum: undefined }],
  ] as const) {
    const original = defining([...limits]);
    assert.ok(WebAssembly.validate(original));
    const rewritten = importingMemory(original);
    assert.ok(rewritten !== null);
    assert.deepEqual(rewritten.limits, expected);
    const module = new WebAssembly.Module(rewritten.bytes);
    assert.deepEqual(WebAssembly.Module.imports(module), [
      { module: "env", name: "f", kind: "function" },
      { module: "ptc", name: "memory", kind: "memory" },
    ]);
    const given = new WebAssembly.Memory(
      expected.maximum === undefined ? { initial: expected.initial } : { initial: 1, maximum: expected.maximum },
    );
    const { exports } = new WebAssembly.Instance(module, { env: { f: () => 1 }, ptc: { memory: given } });
    assert.equal(exports.memory, given, "the module exports the memory it imports");
    (exports.store as (value: number) => void)(0x01020304);
    assert.equal(new Uint32Array(given.buffer)[2], 0x01020304);
    assert.equal((exports.load as () => number)(), 0x01020304);
  }
});

test("a module of another shape is left as it is", () => {
  const importsMemory = new Uint8Array([
    ...header,
    ...[0x02, 0x0f, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01],
  ]);
  const noMemory = new Uint8Array([...header, ...types, ...importF]);
  const noImports = new Uint8Array([...header, ...types, ...memory([0x00, 0x01])]);
  const shared = new Uint8Array([...header, ...types, ...importF, ...memory([0x03, 0x01, 0x02])]);
  const valid = defining([0x01, 0x01, 0x03]);
  for (const bytes of [importsMemory, noMemory, noImports, shared, new Uint8Array(0), new Uint8Array([1, 2, 3])]) {
    assert.equal(importingMemory(bytes), null);
  }
  // Cut before its memory section ends: not rewritten. Cut after: rewritten, and V8 refuses what is cut.
  const memoryEnd = header.length + types.length + importF.length + functions.length + memory([1, 1, 3]).length;
  for (let length = 9; length < valid.length; length += 3) {
    const rewritten = importingMemory(valid.subarray(0, length));
    if (length < memoryEnd) assert.equal(rewritten, null, `cut at ${length}`);
    else assert.equal(rewritten !== null && WebAssembly.validate(rewritten.bytes), false, `cut at ${length}`);
  }
});

test("Pyodide's module imports its 30 MiB memory once rewritten, and is otherwise the same", async () => {
  const pyodideDir = dirname(createRequire(import.meta.url).resolve("pyodide/package.json"));
  const original = new Uint8Array(readFileSync(join(pyodideDir, "pyodide.asm.wasm")));
  const rewritten = importingMemory(original);
  assert.ok(rewritten !== null);
  assert.deepEqual(rewritten.limits, { initial: 480, maximum: 65_536 });
  assert.ok(WebAssembly.validate(rewritten.bytes));
  const before = WebAssembly.Module.imports(new WebAssembly.Module(original));
  const after = WebAssembly.Module.imports(new WebAssembly.Module(rewritten.bytes));
  assert.deepEqual(after, [...before, { module: "ptc", name: "memory", kind: "memory" }]);
  // As the child reads it: the start rewritten, the rest of the file read into place after it.
  const read = await readImportingMemory(join(pyodideDir, "pyodide.asm.wasm"));
  assert.ok(read !== null);
  assert.deepEqual(read.limits, rewritten.limits);
  assert.ok(Buffer.from(read.bytes).equals(Buffer.from(rewritten.bytes)));
  assert.equal(read.bytes.byteLength, read.bytes.buffer.byteLength, "a buffer of its own (freed once compiled)");
});

test("a module file of another shape, or none, is not read so", async () => {
  const directory = mkdtempSync(join(tmpdir(), "ptc-wasm-memory-"));
  const other = join(directory, "other.wasm");
  writeFileSync(other, new Uint8Array([...header, ...types, ...importF]));
  assert.equal(await readImportingMemory(other), null);
  assert.equal(await readImportingMemory(join(directory, "missing.wasm")), null);
  const valid = join(directory, "valid.wasm");
  writeFileSync(valid, defining([0x01, 0x01, 0x03]));
  assert.deepEqual((await readImportingMemory(valid))?.bytes, importingMemory(defining([0x01, 0x01, 0x03]))?.bytes);
});

// A weak reference keeps its target alive to the end of the job that made it (as the child's builds, which
// are asynchronous, never are): each step here starts in a job of its own.
const nextJob = () => new Promise((resolve) => setImmediate(resolve));

test("an instance gets its predecessor's memory, zeroed, only once that instance is collected and only if it did not grow", async () => {
  const limits = { initial: 2, maximum: 8 };
  let collections = 0;
  const collect = () => {
    collections++;
    gc();
  };
  const first = memoryForInstance(limits, collect);
  assert.equal(lastMemoryUse(), "new");
  assert.equal(collections, 1, "the collection runs before the choice");
  let instance: object | null = { exports: {} };
  instanceMade(instance);
  new Uint8Array(first.buffer).fill(7, 100, 5000);
  new Uint8Array(first.buffer).fill(9, WASM_PAGE + 3, 2 * WASM_PAGE);

  await nextJob();
  // Its instance still reachable (its functions could still write to it): a new memory.
  const second = memoryForInstance(limits, collect);
  assert.notEqual(second, first);
  assert.equal(lastMemoryUse(), "new");
  instanceMade(instance);
  new Uint8Array(second.buffer).fill(5, 0, 3 * 4096 + 1);
  instance = null;
  await nextJob();

  // Collected: the same memory, every byte zero again.
  const third = memoryForInstance(limits, collect);
  assert.equal(third, second);
  assert.equal(lastMemoryUse(), "reused");
  assert.ok(new Uint8Array(third.buffer).every((byte) => byte === 0));

  // No instance was made with it (the build failed): not reused.
  const fourth = memoryForInstance(limits, collect);
  assert.notEqual(fourth, third);
  assert.equal(lastMemoryUse(), "new");

  // Grown past its initial size: a new one.
  instanceMade({});
  (fourth as unknown as Memory).grow(1);
  await nextJob();
  const fifth = memoryForInstance(limits, collect);
  assert.notEqual(fifth, fourth);
  assert.equal(lastMemoryUse(), "new");
  instanceMade({});
  await nextJob();
  assert.equal(memoryForInstance(limits, collect), fifth);
  assert.equal(lastMemoryUse(), "reused");
});
