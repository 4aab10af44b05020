import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { pyodideScriptBody, wrapFunctions, wrapperModuleBytes } from "../../src/sandbox/pyodide/child-pyodide-js.js";

// How the sandbox child compiles Pyodide's JavaScript (src/sandbox/pyodide/child-pyodide-js.ts). That sandboxes
// take it from the snapshot's code cache is tested with the snapshot (memory-snapshot.test.ts).

const pyodideDir = dirname(createRequire(import.meta.url).resolve("pyodide/package.json"));
const source = readFileSync(join(pyodideDir, "pyodide.asm.mjs"), "utf8");

test("the installed Pyodide's module takes the linking change: the main module's exports only where imported", () => {
  const body = pyodideScriptBody(source);
  assert.ok(body !== null, "pyodide.asm.mjs no longer has the shape child-pyodide-js.ts expects");
  assert.ok(body.includes("if(isInternalSym(symName)||(imported&&!GOT[symName])){continue}"));
  assert.ok(body.includes("updateGOT(origExports,false,true);"));
  // A side module's exports (`postInstantiation`) still get all their entries.
  assert.ok(body.includes("updateGOT(moduleExports);"));
  // The JS functions the GOT names get their slots in the same order, their wrappers made in one module.
  assert.ok(body.includes("entry.value=addFunctionLater(value,value.sig,wrap)"));
  assert.ok(body.includes("if(!__ptcWrapFunctions(wrap,setWasmTableEntry))"));
  // Function slots answered from the process's first scan of the table (child-table-slots.ts).
  assert.ok(body.includes("if(!__ptcTableSlots.begin(wasmTable)){updateTableMap(0,wasmTable.length);"));
  assert.ok(body.includes("if(__ptcTableSlots.scanning())updateTableMap(0,wasmTable.length);"));
  // Symbols merged by a loop over the keys, no array and closure per export.
  assert.ok(body.includes("var mergeLibSymbols=(exports,libName)=>{var syms=Object.keys(exports);"));
  assert.ok(!body.includes("import.meta") && !/(?<![\w$.])import\(/.test(body), "no module syntax left");
});

test("a file of another shape is left to Pyodide's own import", () => {
  assert.equal(pyodideScriptBody(source.replace("export default _createPyodideModule;", "")), null);
  // Emscripten's linker changed (a Pyodide upgrade): not patched blind, compiled as Pyodide ships it.
  assert.equal(pyodideScriptBody(source.replace("updateGOT(origExports);", "updateGOT(origExports, true);")), null);
  const twice = source.replace("updateGOT(origExports);", "updateGOT(origExports);updateGOT(origExports);");
  assert.equal(pyodideScriptBody(twice), null);
  const reported = 'if(typeof value=="function"){entry.value=addFunction(value,value.sig)}';
  assert.ok(source.includes(reported));
  assert.equal(pyodideScriptBody(source.replace(reported, reported.replace("value.sig", "value.sig||0"))), null);
  const scanned = "functionsInTableMap=new WeakMap;updateTableMap(0,wasmTable.length)";
  assert.ok(source.includes(scanned));
  assert.equal(pyodideScriptBody(source.replace(scanned, scanned.replace("(0,", "(1,"))), null);
});

type Slot = (...args: unknown[]) => unknown;
const WasmTable = (
  globalThis as unknown as {
    WebAssembly: { Table: new (d: object) => { get(i: number): Slot; set(i: number, f: unknown): void } };
  }
).WebAssembly.Table;

test("one module wraps JS functions of every signature letter for a funcref table, as Emscripten's one-by-one wrap does", () => {
  const table = new WasmTable({ element: "anyfunc", initial: 8 });
  const seen: unknown[] = [];
  const pending: Array<[number, (...args: never[]) => unknown, string]> = [
    [3, ((a: number, b: number) => a + b) as never, "iii"],
    [1, (() => seen.push("called")) as never, "v"],
    [5, ((x: number) => x / 2) as never, "dd"],
    [0, ((x: bigint) => x * 2n) as never, "jj"],
    [6, ((o: unknown) => o) as never, "ee"],
    [7, ((p: number, f: number) => seen.push([p, f])) as never, "vpf"],
    [2, ((a: number, b: number) => a - b) as never, "iii"],
  ];
  assert.equal(
    wrapFunctions(pending, (slot, wrapped) => table.set(slot, wrapped)),
    true,
  );
  // The wasm signature applies: i32 arguments wrap, an i64 is a BigInt, a void result is undefined.
  assert.equal(table.get(3)(2 ** 32 + 5, 1), 6);
  assert.equal(table.get(2)(10, 4), 6);
  assert.equal(table.get(1)(), undefined);
  assert.equal(table.get(5)(3), 1.5);
  assert.equal(table.get(0)(21n), 42n);
  const object = { x: 1 };
  assert.equal(table.get(6)(object), object);
  table.get(7)(-1, 0.5);
  assert.deepEqual(seen, ["called", [-1, 0.5]]);
  // The same signatures again (the next build's): the same module, new wrappers of the new functions.
  const again = new WasmTable({ element: "anyfunc", initial: 1 });
  assert.equal(
    wrapFunctions([[0, ((a: number, b: number) => a * b) as never, "iii"]], (s, w) => again.set(s, w)),
    true,
  );
  assert.equal(again.get(0)(6, 7), 42);
});

test("a signature letter it does not know leaves the wrapping to Emscripten, with nothing set", () => {
  assert.equal(wrapperModuleBytes(["iii", "vq"]), null);
  assert.equal(wrapperModuleBytes(["q"]), null);
  const set: number[] = [];
  assert.equal(
    wrapFunctions(
      [
        [0, (() => 1) as never, "i"],
        [1, (() => 1) as never, "iz"],
      ],
      (slot) => set.push(slot),
    ),
    false,
  );
  assert.deepEqual(set, []);
  assert.equal(
    wrapFunctions([], () => assert.fail("nothing to set")),
    true,
  );
});

test("the merged symbols are Emscripten's: the same imports, in the same order, for main's aliases and stubs too", () => {
  const body = pyodideScriptBody(source);
  assert.ok(body !== null);
  /** The file's `mergeLibSymbols` (up to the function after it), over these imports. */
  const merge = (text: string, wasmImports: Record<string, unknown>) => {
    const start = text.indexOf("var mergeLibSymbols=");
    const definition = text.slice(start, text.indexOf("var asyncLoad=", start));
    const isSymbolDefined = (name: string) => {
      const existing = wasmImports[name] as { stub?: boolean } | undefined;
      return Boolean(existing) && !existing?.stub;
    };
    return new Function("wasmImports", "isSymbolDefined", `${definition}return mergeLibSymbols;`)(
      wasmImports,
      isSymbolDefined,
    ) as (exports: object, name: string) => void;
  };
  const stub = { stub: true };
  for (const exports of [
    { a: 1, main: 2, b: 3 },
    { __main_argc_argv: 5, x: 6 },
    { main: 1, __main_argc_argv: 2 },
  ]) {
    for (const before of [{}, { main: 9 }, { __main_argc_argv: 7 }, { __main_argc_argv: stub }, { a: stub, x: 4 }]) {
      const results: Array<Array<[string, unknown]>> = [source, body].map((text) => {
        const imports: Record<string, unknown> = { ...before };
        merge(text, imports)(exports, "main");
        return Object.entries(imports);
      });
      const [shipped, patched] = results;
      assert.deepEqual(patched, shipped, `${JSON.stringify(exports)} over ${JSON.stringify(before)}`);
    }
  }
});
