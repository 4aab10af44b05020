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
// in the snapshot maker too, and a restored instance's table matched the maker's slot for slot.
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

const FILE = "pyodide.asm.mjs";
const EXPORT = "export default _createPyodideModule;";
const URL_PARAMETER = "__ptcModuleUrl";
const IMPORT_PARAMETER = "__ptcImport";
/** A dynamic `import(` (not a method or property of that name). */
const DYNAMIC_IMPORT = /(?<![\w$.])import\(/g;
const importModule = (specifier: string): Promise<unknown> => import(specifier);
/** Emscripten's `updateGOT`, and its call for the main module: entries only for what that module imports. */
const LINK_PATCHES: ReadonlyArray<readonly [string, string]> = [
  [
    "var updateGOT=(exports,replace)=>{for(var symName in exports){if(isInternalSym(symName)){continue}",
    "var updateGOT=(exports,replace,imported)=>{for(var symName in exports){if(isInternalSym(symName)||(imported&&!GOT[symName])){continue}",
  ],
  ["updateGOT(origExports);", "updateGOT(origExports,false,true);"],
];

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
    const wrapped = `(function (${URL_PARAMETER}, ${IMPORT_PARAMETER}) {"use strict";${body}\nreturn _createPyodideModule;})`;
    script = new vm.Script(wrapped, { filename: path, ...(cachedData ? { cachedData } : {}) });
    const made = script.runInThisContext() as (url: string, load: typeof importModule) => CreateModule;
    createModule = made(pathToFileURL(path).href, importModule);
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
