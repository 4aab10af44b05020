// Module hooks of scripts/test-loader.mjs (they run on Node's hooks thread).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

const { version: esbuildVersion } = createRequire(import.meta.url)("esbuild/package.json");
/** What a transform depends on besides the file: a change to either makes new cache entries. */
const OPTIONS = {
  loader: "ts",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  // As tsconfig.json: an import without `type` stays, so a missing value export fails as it would in dist/.
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
};
const OPTIONS_KEY = `esbuild ${esbuildVersion} ${JSON.stringify(OPTIONS)}`;

let cacheDirectory = "";

export function initialize(data) {
  cacheDirectory = data.cacheDirectory;
  try {
    mkdirSync(cacheDirectory, { recursive: true });
  } catch {}
}

const isTypeScript = (url) => url.startsWith("file:") && url.endsWith(".ts");

export async function resolve(specifier, context, nextResolve) {
  // TypeScript's NodeNext convention: `./x.js` in a .ts file names ./x.ts (a real x.js wins, as in tsc).
  const parent = context.parentURL;
  if (parent !== undefined && isTypeScript(parent) && specifier.startsWith(".") && specifier.endsWith(".js")) {
    const asJs = new URL(specifier, parent);
    if (!existsSync(asJs)) {
      const asTs = new URL(`${specifier.slice(0, -3)}.ts`, parent);
      if (existsSync(asTs)) return { url: asTs.href, format: "module", shortCircuit: true };
    }
  }
  const resolved = await nextResolve(specifier, context);
  return isTypeScript(resolved.url) ? { ...resolved, format: "module" } : resolved;
}

/** Where a module's own source-map comment would be: at its end. */
const SOURCE_MAP_TAIL = 512;
const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=[^\n]*\s*$/;

export async function load(url, context, nextLoad) {
  if (!isTypeScript(url)) {
    const loaded = await nextLoad(url, context);
    // Source maps are on for the transformed .ts files (test-loader.mjs), and Node would apply a package's own
    // maps too: Pyodide finds its files from its stack trace (pyodide.mjs's map names ../src/js/...), so a
    // package's ES module loads without its map comment, as it does without source maps.
    if (loaded.format === "module" && url.includes("/node_modules/") && loaded.source != null) {
      const source = loaded.source;
      // Node gives a Buffer: read in place, not copied (pyodide.asm.mjs is 1.25 MB).
      const bytes = typeof source === "string" ? undefined : asBuffer(source);
      const tail = bytes ? bytes.subarray(-SOURCE_MAP_TAIL).toString("latin1") : source.slice(-SOURCE_MAP_TAIL);
      if (tail.includes("sourceMappingURL=")) {
        const text = bytes ? bytes.toString("utf8") : source;
        return { ...loaded, source: text.replace(SOURCE_MAP_COMMENT, "\n") };
      }
    }
    return loaded;
  }
  const path = fileURLToPath(url);
  const source = readFileSync(path, "utf8");
  const key = createHash("sha256").update(OPTIONS_KEY).update("\0").update(path).update("\0").update(source);
  const cached = join(cacheDirectory, `${key.digest("hex")}.js`);
  let code;
  try {
    code = readFileSync(cached, "utf8");
  } catch {
    ({ code } = await transform(source, { ...OPTIONS, sourcefile: path }));
    // Written whole or not at all: test processes running at once may load the same file. A cache that
    // cannot be written (a read-only checkout) only costs the next process the transform again.
    const partial = `${cached}.${process.pid}.partial`;
    try {
      writeFileSync(partial, code);
      renameSync(partial, cached);
    } catch {}
  }
  return { format: "module", source: code, shortCircuit: true };
}

function asBuffer(source) {
  if (Buffer.isBuffer(source)) return source;
  if (ArrayBuffer.isView(source)) return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  return Buffer.from(source);
}
