import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as fsPromises from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { keepingWasmModule, moduleKept } from "../../src/sandbox/pyodide/child-wasm-module.js";

// A module importing its memory, as Pyodide's does: `set(v)` stores v at address 0, `get()` loads it.
// biome-ignore format: one wasm section a line
const MODULE = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x09, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00, // types: () -> i32, (i32) -> ()
  0x02, 0x0f, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01, // env.memory
  0x03, 0x03, 0x02, 0x00, 0x01,
  0x07, 0x0d, 0x02, 0x03, 0x67, 0x65, 0x74, 0x00, 0x00, 0x03, 0x73, 0x65, 0x74, 0x00, 0x01, // exports get, set
  0x0a, 0x13, 0x02, 0x07, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x0b, 0x09, 0x00, 0x41, 0x00, 0x20, 0x00, 0x36, 0x02,
  0x00, 0x0b,
];
// The same length, one byte apart: the export "got" instead of "get".
const OTHER = MODULE.map((byte, index) => (index === MODULE.indexOf(0x67) + 1 ? 0x6f : byte));

// The host's TypeScript has no DOM lib, so no WebAssembly types: the part used here.
type Exports = { get(): number; set(value: number): void };
type Instance = { exports: Exports };
type Result = { instance: Instance; module: object };
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(source: object, imports: object): Promise<unknown>;
      Memory: new (descriptor: { initial: number }) => object;
      Module: { new (bytes: Uint8Array): object; exports(module: object): Array<{ name: string }> };
      Instance: new (...args: never[]) => Instance;
    };
  }
).WebAssembly;
const imports = () => ({ env: { memory: new WebAssembly.Memory({ initial: 1 }) } });
const instantiate = (bytes: number[]): Promise<Result> =>
  WebAssembly.instantiate(new Uint8Array(bytes), imports()) as Promise<Result>;

// As Pyodide loads its module: the file's bytes through node:fs/promises' namespace, then instantiate.
const directory = mkdtempSync(join(tmpdir(), "ptc-wasm-module-"));
const modulePath = join(directory, "pyodide.asm.wasm");
const otherPath = join(directory, "other.wasm");
const loadModule = (path: string) => async (): Promise<Result> => {
  const bytes = await fsPromises.readFile(path);
  return (await WebAssembly.instantiate(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    imports(),
  )) as Result;
};

test("the module file is read and compiled by the first build only; later builds get the kept module", async () => {
  const realInstantiate = WebAssembly.instantiate;
  const realReadFile = fsPromises.readFile;
  writeFileSync(modulePath, new Uint8Array(MODULE));
  assert.equal(moduleKept(), false);
  const first = await keepingWasmModule(modulePath, loadModule(modulePath));
  assert.equal(moduleKept(), true);
  first.instance.exports.set(42);
  // Other bytes in the file now: a build that read it would compile them ("got" for "get").
  writeFileSync(modulePath, new Uint8Array(OTHER));
  const second = await keepingWasmModule(modulePath, loadModule(modulePath));
  assert.equal(second.module, first.module, "instantiated from the kept module, the file not read");
  assert.notEqual(second.instance, first.instance);
  assert.equal(second.instance.exports.get(), 0, "the new instance does not see the old one's memory");
  assert.equal(first.instance.exports.get(), 42);
  assert.equal(WebAssembly.instantiate, realInstantiate, "the realm's instantiate is back after a build");
  assert.equal(fsPromises.readFile, realReadFile, "node:fs/promises' readFile is back after a build");
  assert.deepEqual(
    await fsPromises.readFile(modulePath),
    Buffer.from(OTHER),
    "outside a build the file reads as it is",
  );
});

test("other files and other bytes pass through: read as they are, compiled, not kept", async () => {
  writeFileSync(otherPath, new Uint8Array(OTHER));
  const kept = await keepingWasmModule(modulePath, loadModule(modulePath));
  const other = await keepingWasmModule(modulePath, loadModule(otherPath));
  assert.notEqual(other.module, kept.module);
  assert.deepEqual(
    WebAssembly.Module.exports(other.module).map((each) => each.name),
    ["got", "set"],
  );
  const fromBytes = await keepingWasmModule(modulePath, () => instantiate(MODULE));
  assert.notEqual(fromBytes.module, kept.module, "bytes not read from the module file are compiled");
  const again = await keepingWasmModule(modulePath, loadModule(modulePath));
  assert.equal(again.module, kept.module, "the first module stays the kept one");
});

test("a module passed in is instantiated as it is, and a failed build puts both back", async () => {
  const realInstantiate = WebAssembly.instantiate;
  const realReadFile = fsPromises.readFile;
  const module = new WebAssembly.Module(new Uint8Array(MODULE));
  const instance = await keepingWasmModule(modulePath, () => WebAssembly.instantiate(module, imports()));
  assert.ok(instance instanceof WebAssembly.Instance);
  await assert.rejects(
    keepingWasmModule(modulePath, async () => {
      throw new Error("the build failed");
    }),
    /the build failed/,
  );
  assert.equal(WebAssembly.instantiate, realInstantiate);
  assert.equal(fsPromises.readFile, realReadFile);
});
