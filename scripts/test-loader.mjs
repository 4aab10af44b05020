// The test files' TypeScript loader (`node --import ./scripts/test-loader.mjs`, set by scripts/run-tests.mjs):
// each .ts file of this repository is stripped of its types by esbuild, as tsx would, and the result kept on
// disk by the file's content. Not tsx: tsx's hooks take every module of a test file's graph (node_modules
// included) through their resolution and format checks, ~0.3-0.75 s of CPU a test process (loading the
// server's modules: 1.1 s of CPU under tsx, 0.65 s here, 0.35 s from dist/); 134 test processes, on a suite
// that is CPU-bound on 2 cores. These hooks touch only relative `.js` imports from a .ts file that name a
// .ts file, and .ts files; everything else goes straight to Node's own resolution and loading.
// Fixtures and the CLI still use tsx where they load TypeScript (src/sources/load-tools-module.ts).
import { register } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// Stack traces name the .ts file and its lines (the transform inlines a source map).
process.setSourceMapsEnabled(true);
register("./test-loader-hooks.mjs", import.meta.url, {
  data: { cacheDirectory: join(root, "node_modules", ".cache", "ptc-test-ts") },
});
