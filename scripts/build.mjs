// Compiles src/ to dist/ and copies the guest Python (its parts) next to the compiled sandbox child. The build goes
// to a fresh folder that then replaces dist/ whole, so a failed build leaves the previous dist/ in place
// and a process running ptc meanwhile never sees half of one. Run by `npm run build`, by `prepack` (once,
// for `npm pack` / `npm publish`) and by `postprepare` (this checkout's `npm ci` / `npm install`).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const require = createRequire(import.meta.url);
const staging = join("node_modules", ".cache", `ptc-build-${process.pid}`);
mkdirSync(dirname(staging), { recursive: true });
rmSync(staging, { recursive: true, force: true });
try {
  const tsc = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", staging],
    { stdio: "inherit" },
  );
  if (tsc.status === 0) {
    for (const part of readdirSync("src/sandbox/pyodide").filter((name) => name.endsWith(".py"))) {
      cpSync(join("src/sandbox/pyodide", part), join(staging, "sandbox", "pyodide", part));
    }
    // Source maps name their sources relative to where they were written: re-aim them from dist/.
    for (const file of readdirSync(staging, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".map")) continue;
      const map = JSON.parse(readFileSync(join(staging, file), "utf8"));
      const from = dirname(join(staging, file));
      const to = dirname(join("dist", file));
      map.sources = map.sources.map((source) => relative(to, resolve(from, source)).split("\\").join("/"));
      writeFileSync(join(staging, file), JSON.stringify(map));
    }
    // Swapped by two renames, not removed then renamed: a ptc process started meanwhile (a test running
    // bin/ptc.js beside `npm pack`'s prepack) finds a whole dist/ at every moment but between the renames.
    const previous = `${staging}-previous`;
    rmSync(previous, { recursive: true, force: true });
    try {
      renameSync("dist", previous);
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
    renameSync(staging, "dist");
    rmSync(previous, { recursive: true, force: true });
  } else {
    process.stderr.write("build: tsc failed; dist/ is left as it was\n");
    process.exitCode = tsc.status ?? 1;
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}
