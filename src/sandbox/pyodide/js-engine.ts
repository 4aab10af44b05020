// The JavaScript guest's engine in the sandbox child: QuickJS compiled to WebAssembly (quickjs-emscripten,
// the release "sync" variant). Its modules are imported and its wasm compiled once, when the child starts,
// before any guest code runs: their module-level captures are made in a clean realm, and no later guest
// (Python shares this realm) can change what they captured. Each execution gets a fresh wasm *instance* of
// the compiled module (`newQuickJS`): its own linear memory, so nothing of one execution's JavaScript heap
// survives into the next, and the Pyodide instance is never touched. Measured on the sandbox Node 26.10
// (docs/sandbox.md "JavaScript guest"): a fresh instance + runtime + context ~1.5 ms, against ~0.17 ms for a
// runtime + context in a shared instance. Part of the child: erasable syntax, node: builtins and sibling
// modules only; the QuickJS packages are read from their folders (sandbox-runtime.ts allows those reads).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { QuickJSWASMModule } from "quickjs-emscripten-core";

type WasmModule = object;
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } })
  .WebAssembly;

type CoreModule = {
  newQuickJSWASMModuleFromVariant(variant: unknown): Promise<QuickJSWASMModule>;
  newVariant(base: unknown, options: { wasmModule: WasmModule }): unknown;
};

let variant: unknown = null;
let core: CoreModule | null = null;
let loadError = "";

/**
 * Imports QuickJS (`coreDir`: quickjs-emscripten-core's dist folder; `variantDir`: the wasmfile release-sync
 * variant's) and compiles its wasm. Never throws: a child without QuickJS still serves Python, and a
 * JavaScript run then fails with the reason (`quickJSUnavailable`).
 */
export async function loadQuickJS(coreDir: string, variantDir: string): Promise<void> {
  if (!coreDir || !variantDir) {
    loadError = "the sandbox was started without the JavaScript engine";
    return;
  }
  try {
    const url = (dir: string, file: string) => pathToFileURL(join(dir, file)).href;
    const [coreModule, ffi, loader] = await Promise.all([
      import(url(coreDir, "index.mjs")) as Promise<CoreModule>,
      import(url(variantDir, "ffi.mjs")) as Promise<{ QuickJSFFI: unknown }>,
      import(url(variantDir, "emscripten-module.mjs")) as Promise<{ default: unknown }>,
    ]);
    // Compiled lazily by V8 (~3 ms here); every execution instantiates it afresh.
    const wasmModule = await wasm.compile(readFileSync(join(variantDir, "emscripten-module.wasm")));
    const base = {
      type: "sync",
      importFFI: async () => ffi.QuickJSFFI,
      importModuleLoader: async () => loader.default,
    };
    core = coreModule;
    variant = coreModule.newVariant(base, { wasmModule });
  } catch (error) {
    loadError = `the JavaScript engine failed to load: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Why JavaScript cannot run in this child, or "" when it can. */
export function quickJSUnavailable(): string {
  return core ? "" : loadError || "the JavaScript engine is not loaded";
}

/** A fresh QuickJS: a new wasm instance (its own memory) of the module compiled at start-up. */
export function newQuickJS(): Promise<QuickJSWASMModule> {
  if (!core) return Promise.reject(new Error(quickJSUnavailable()));
  return core.newQuickJSWASMModuleFromVariant(variant);
}
