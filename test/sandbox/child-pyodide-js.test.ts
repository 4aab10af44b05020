import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { pyodideScriptBody } from "../../src/sandbox/pyodide/child-pyodide-js.js";

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
  assert.ok(!body.includes("import.meta") && !/(?<![\w$.])import\(/.test(body), "no module syntax left");
});

test("a file of another shape is left to Pyodide's own import", () => {
  assert.equal(pyodideScriptBody(source.replace("export default _createPyodideModule;", "")), null);
  // Emscripten's linker changed (a Pyodide upgrade): not patched blind, compiled as Pyodide ships it.
  assert.equal(pyodideScriptBody(source.replace("updateGOT(origExports);", "updateGOT(origExports, true);")), null);
  const twice = source.replace("updateGOT(origExports);", "updateGOT(origExports);updateGOT(origExports);");
  assert.equal(pyodideScriptBody(twice), null);
});
