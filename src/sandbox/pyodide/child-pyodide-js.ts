// Pyodide's Emscripten module (pyodide.asm.mjs, 1.25 MB of JavaScript) as the child compiles it: with V8's code
// cache, and linking only what the module imports. Part of the child: erasable syntax and node: builtins only,
// and all of it runs before any guest code does.
//
// The code cache. Every new sandbox parsed and compiled that file from source: Pyodide imports it as an ES
// module, and Node keeps no code cache for a sandbox (its compile cache needs a folder the child can write,
// which a sandbox must not have). Instead the snapshot maker (a child that runs no guest code) compiles it as a
// script here, has it run a whole interpreter start-up, and hands the host V8's code cache of it with the
// memory snapshot (memory-snapshot.ts), which every later sandbox reads read-only. Measured on the sandbox's
// Node, a start from the snapshot, alternated: ~480 -> ~390 ms of CPU, ~400 -> ~320 ms of wall (BENCHMARKS.md,
// stop 28).
//
// The linking. Emscripten links the main module at each instantiation, a start's and every reset's: `updateGOT`
// gives each of its ~13,000 exports a table slot (`addFunction`) and a `WebAssembly.Global` in the global
// offset table, for side modules loaded later to link against. The module's own code reads only the GOT
// entries it imports (created while it is instantiated, then filled in by this same call), a sandbox never
// loads a side module (no packages), and one that did would get its entries on demand (Emscripten's GOT proxy,
// resolved as any undefined symbol is). So the exports get entries only where the module imports them: 8,993
// table slots at the snapshot instead of 14,175, and ~10,000 fewer Globals, each with its own array buffer,
// for V8 to create and then trace in every full GC. Measured in-process, twelve builds from a snapshot: CPU
// per build ~340-370 -> ~270-290 ms. The slots a snapshot's function pointers name are laid out by this code
// in the snapshot maker too, and a restored instance's table matched the maker's slot for slot. And the ~260
// JS functions the GOT names (Emscripten's library, Pyodide's hiwire) go into the table through wrappers that
// one module makes for all (`wrapFunctions`), compiled once per process, where Emscripten compiled and
// instantiated a module for each at every build: `reportUndefinedSymbols` ~14 -> ~8 ms, a reset's wall ~99-104
// -> ~89-94 ms (3 pairs alternated, 14 resets each). The slots are taken in the same order as before. And
// `getFunctionAddress` scans the table only in the process's first build: later builds answer from that scan,
// each answer checked against the new table (child-table-slots.ts).
//
// The file becomes a function: `import.meta.url` is its URL passed in, the default export is returned, and
// its `import()`s (node:module at start-up; all name builtins or absolute URLs) call this module's `import()`
// (a script's own would need vm's experimental loader option, which Node 20 does not honour here). Strict
// mode, as a module is. A file of another shape (a Pyodide upgrade) fails to compile as such and Pyodide
// imports it itself, as before: the ready frame says which path a sandbox took, and a test holds it to the
// cached one; another test holds the linking change to the file `pyodide` installs.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";
import type { CodeCacheUse } from "./bridge.ts";
import { type TableSlots, tableSlots } from "./child-table-slots.ts";

const FILE = "pyodide.asm.mjs";
const EXPORT = "export default _createPyodideModule;";
const URL_PARAMETER = "__ptcModuleUrl";
const IMPORT_PARAMETER = "__ptcImport";
/** A dynamic `import(` (not a method or property of that name). */
const DYNAMIC_IMPORT = /(?<![\w$.])import\(/g;
const WRAP_PARAMETER = "__ptcWrapFunctions";
const importModule = (specifier: string): Promise<unknown> => import(specifier);
/**
 * Emscripten's `reportUndefinedSymbols` as it ships: every JS function a GOT entry names gets a table slot,
 * through `addFunction`, which tries the bare function (a TypeError), then compiles and instantiates a module
 * of its own to wrap it (`convertJsFunctionToWasm`).
 */
const REPORT_UNDEFINED =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Emscripten's own text, its template literals included.
  'var reportUndefinedSymbols=()=>{for(var[symName,entry]of Object.entries(GOT)){if(entry.value==-1){var value=resolveGlobalSymbol(symName,true).sym;if(!value&&!entry.required){entry.value=0;continue}else if(!value){throw new Error(`Dynamic linking error: undefined symbol \'${symName}\'`)}if(typeof value=="function"){entry.value=addFunction(value,value.sig)}else if(typeof value=="number"){entry.value=value}else if(typeof value.value=="number"){entry.value=value}else{throw new Error(`bad export type for \'${symName}\': ${typeof value} (${value})`)}}}};';
/**
 * The same slots in the same order, the wrappers made together (`wrapFunctions`): `addFunctionLater` takes the
 * slot and leaves a function the table refuses for the end, where one module wraps them all, or, should it
 * decline, Emscripten's own conversion wraps each.
 */
const REPORT_UNDEFINED_BATCHED = REPORT_UNDEFINED.replace(
  "var reportUndefinedSymbols=()=>{",
  "var reportUndefinedSymbols=()=>{var wrap=[];",
)
  .replace("entry.value=addFunction(value,value.sig)", "entry.value=addFunctionLater(value,value.sig,wrap)")
  .replace(
    /\}\}\}\};$/,
    `}}}if(!${WRAP_PARAMETER}(wrap,setWasmTableEntry)){for(var w of wrap)setWasmTableEntry(w[0],convertJsFunctionToWasm(w[1],w[2]))}};` +
      "var addFunctionLater=(func,sig,wrap)=>{var rtn=getFunctionAddress(func);if(rtn){return rtn}var ret=getEmptyTableSlot();try{setWasmTableEntry(ret,func)}catch(err){if(!(err instanceof TypeError)){throw err}wrap.push([ret,func,sig])}functionsInTableMap.set(func,ret);return ret};",
  );
const SLOTS_PARAMETER = "__ptcTableSlots";
/**
 * Emscripten's `getFunctionAddress`: at its first call in an instance, a scan of the whole table for a map of
 * function -> slot.
 */
const FUNCTION_ADDRESS =
  "var getFunctionAddress=func=>{if(!functionsInTableMap){functionsInTableMap=new WeakMap;updateTableMap(0,wasmTable.length)}return functionsInTableMap.get(func)||0};";
/**
 * The same answers, from the slots the process's first scan found where each is checked (child-table-slots.ts),
 * the map holding only what was added since; the scan as before when an answer is not known there.
 */
const FUNCTION_ADDRESS_KNOWN =
  "var getFunctionAddress=func=>{if(!functionsInTableMap){functionsInTableMap=new WeakMap;" +
  `if(!${SLOTS_PARAMETER}.begin(wasmTable)){updateTableMap(0,wasmTable.length);${SLOTS_PARAMETER}.learn(wasmTable,wasmTableMirror)}}` +
  `var slot=functionsInTableMap.get(func);if(slot)return slot;slot=${SLOTS_PARAMETER}.find(func,wasmTable);if(slot!==undefined)return slot;` +
  `if(${SLOTS_PARAMETER}.scanning())updateTableMap(0,wasmTable.length);return functionsInTableMap.get(func)||0};`;
/**
 * Emscripten's `updateGOT`, and its call for the main module: entries only for what that module imports;
 * `reportUndefinedSymbols` with its JS functions' wrappers made in one module; `getFunctionAddress` without
 * scanning the table in every instance.
 */
/**
 * Emscripten's `mergeLibSymbols`: `Object.entries` of the ~8,500 exports (an array each) and a closure per
 * export; the same assignments, in the same order, from a loop over the keys.
 */
const MERGE_SYMBOLS =
  'var mergeLibSymbols=(exports,libName)=>{for(var[sym,exp]of Object.entries(exports)){const setImport=target=>{if(!isSymbolDefined(target)){wasmImports[target]=exp}};setImport(sym);const main_alias="__main_argc_argv";if(sym=="main"){setImport(main_alias)}if(sym==main_alias){setImport("main")}}};';
const MERGE_SYMBOLS_LOOP =
  "var mergeLibSymbols=(exports,libName)=>{var syms=Object.keys(exports);for(var i=0;i<syms.length;i++){var sym=syms[i],exp=exports[sym];" +
  'if(!isSymbolDefined(sym)){wasmImports[sym]=exp}if(sym=="main"&&!isSymbolDefined("__main_argc_argv")){wasmImports["__main_argc_argv"]=exp}' +
  'if(sym=="__main_argc_argv"&&!isSymbolDefined("main")){wasmImports["main"]=exp}}};';
const LINK_PATCHES: ReadonlyArray<readonly [string, string]> = [
  [
    "var updateGOT=(exports,replace)=>{for(var symName in exports){if(isInternalSym(symName)){continue}",
    "var updateGOT=(exports,replace,imported)=>{for(var symName in exports){if(isInternalSym(symName)||(imported&&!GOT[symName])){continue}",
  ],
  ["updateGOT(origExports);", "updateGOT(origExports,false,true);"],
  [REPORT_UNDEFINED, REPORT_UNDEFINED_BATCHED],
  [FUNCTION_ADDRESS, FUNCTION_ADDRESS_KNOWN],
  [MERGE_SYMBOLS, MERGE_SYMBOLS_LOOP],
];

/** Wasm value types of Emscripten's signature letters (wasm32: a pointer is an i32). */
const TYPE_CODES: Readonly<Record<string, number>> = { i: 0x7f, p: 0x7f, j: 0x7e, f: 0x7d, d: 0x7c, e: 0x6f };
type WasmApi = {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};
const { Module: WasmModule, Instance: WasmInstance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const keys = Object.keys;

function leb128(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest & 0x7f;
    rest >>>= 7;
    bytes.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return bytes;
}

const section = (id: number, count: number, entries: number[]): number[] => {
  const content = [...leb128(count), ...entries];
  return [id, ...leb128(content.length), ...content];
};
const asciiName = (text: string): number[] => [...leb128(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];

/**
 * A module that imports each function `e.<i>` with the type of `signatures[i]` (Emscripten's letters: the
 * result, then the parameters; "v" for none) and exports it again as `<i>`: what `convertJsFunctionToWasm`
 * builds for one function, for all at once. Null for a letter it does not know.
 */
export function wrapperModuleBytes(signatures: readonly string[]): Uint8Array | null {
  const typeIndex = new Map<string, number>();
  const types: number[] = [];
  for (const signature of signatures) {
    if (typeIndex.has(signature)) continue;
    const codes = Array.from(signature, (letter) => TYPE_CODES[letter]);
    const [result, ...parameters] = codes;
    if (parameters.includes(undefined) || (result === undefined && signature[0] !== "v")) return null;
    typeIndex.set(signature, typeIndex.size);
    types.push(0x60, ...leb128(parameters.length), ...(parameters as number[]));
    types.push(...(result === undefined ? [0] : [1, result]));
  }
  const imports: number[] = [];
  const exports: number[] = [];
  signatures.forEach((signature, index) => {
    imports.push(...asciiName("e"), ...asciiName(String(index)), 0x00, ...leb128(typeIndex.get(signature) as number));
    exports.push(...asciiName(String(index)), 0x00, ...leb128(index));
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, typeIndex.size, types),
    ...section(2, signatures.length, imports),
    ...section(7, signatures.length, exports),
  ]);
}

/** Wrapper modules by their signatures: the same list every build, so each process compiles it once. */
const wrapperModules = new Map<string, object>();

/**
 * Puts `pending`'s JS functions (`[slot, function, signature]`) in their table slots through one module that
 * wraps them all, instead of a module compiled and instantiated for each (~260 a build, ~12 ms of a reset's
 * CPU). False, with nothing set, when a signature is one it cannot type (Emscripten's conversion then runs).
 */
export function wrapFunctions(
  pending: ReadonlyArray<readonly [number, (...args: never[]) => unknown, string]>,
  set: (slot: number, wrapped: unknown) => void,
): boolean {
  if (pending.length === 0) return true;
  const signatures = pending.map((entry) => entry[2]);
  const key = signatures.join(",");
  let module = wrapperModules.get(key);
  if (module === undefined) {
    const bytes = wrapperModuleBytes(signatures);
    if (bytes === null) return false;
    module = new WasmModule(bytes);
    wrapperModules.set(key, module);
  }
  const functions: Record<string, unknown> = {};
  pending.forEach((entry, index) => {
    functions[index] = entry[1];
  });
  const wrapped = new WasmInstance(module, { e: functions }).exports;
  if (keys(wrapped).length !== pending.length) return false;
  pending.forEach((entry, index) => {
    set(entry[0], wrapped[index]);
  });
  return true;
}

/**
 * pyodide.asm.mjs as the body of a function of its URL and an `import()`, linking only what the main module
 * imports; null unless the file has the shape this expects (its default export last, each patched text once).
 */
export function pyodideScriptBody(source: string): string | null {
  const trimmed = source.trimEnd();
  if (!trimmed.endsWith(EXPORT)) return null;
  let body = trimmed.slice(0, -EXPORT.length);
  for (const [from, to] of LINK_PATCHES) {
    if (body.split(from).length !== 2) return null;
    body = body.replace(from, to);
  }
  return body.replaceAll("import.meta.url", URL_PARAMETER).replace(DYNAMIC_IMPORT, `${IMPORT_PARAMETER}(`);
}

type CreateModule = (settings: object) => Promise<unknown>;
let script: vm.Script | null = null;
let createModule: CreateModule | null = null;
let use: CodeCacheUse = "unavailable";
let tried = false;

/**
 * Compiles Pyodide's module from `pyodideDir` once per process, with the code cache at `cachePath` ("" for
 * none): the function Pyodide's `createPyodideModule` option takes, or undefined where the file or this Node
 * does not allow it (Pyodide then imports the file itself).
 */
export function pyodideModule(pyodideDir: string, cachePath: string): CreateModule | undefined {
  if (tried) return createModule ?? undefined;
  tried = true;
  const path = join(pyodideDir, FILE);
  let body: string | null;
  try {
    body = pyodideScriptBody(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
  if (body === null) return undefined;
  const cachedData = readCache(cachePath);
  try {
    const wrapped = `(function (${URL_PARAMETER}, ${IMPORT_PARAMETER}, ${WRAP_PARAMETER}, ${SLOTS_PARAMETER}) {"use strict";${body}\nreturn _createPyodideModule;})`;
    script = new vm.Script(wrapped, { filename: path, ...(cachedData ? { cachedData } : {}) });
    const made = script.runInThisContext() as (
      url: string,
      load: typeof importModule,
      wrap: typeof wrapFunctions,
      slots: TableSlots,
    ) => CreateModule;
    createModule = made(pathToFileURL(path).href, importModule, wrapFunctions, tableSlots);
  } catch {
    script = null;
    return undefined;
  }
  use = cachedData === null ? "none" : script.cachedDataRejected ? "rejected" : "accepted";
  return createModule;
}

function readCache(cachePath: string): Buffer | null {
  if (!cachePath) return null;
  try {
    return readFileSync(cachePath);
  } catch {
    return null;
  }
}

/** How this process compiled Pyodide's module (the ready frame reports it). */
export function codeCacheUse(): CodeCacheUse {
  return use;
}

/**
 * V8's code cache of Pyodide's module as compiled so far: called by the snapshot maker once its interpreter
 * has started, so the cache holds every function a start-up ran. Empty if the module was not compiled here.
 */
export function makeCodeCache(): Uint8Array {
  return createModule !== null && script !== null ? script.createCachedData() : new Uint8Array(0);
}
