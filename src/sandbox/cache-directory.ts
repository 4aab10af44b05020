import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/**
 * ptc's cache (sandbox runtime, memory snapshots): a folder only this user can write, since whoever
 * can write there decides what every sandbox runs. `PTC_CACHE_DIR` overrides it.
 */
export function cacheDirectory(): string {
  const explicit = process.env.PTC_CACHE_DIR;
  if (explicit) {
    mkdirSync(explicit, { recursive: true, mode: 0o700 });
    return explicit;
  }
  const nodeModules = dirname(dirname(require.resolve("pyodide/package.json")));
  const candidate = join(nodeModules, ".cache", "ptc");
  try {
    mkdirSync(candidate, { recursive: true, mode: 0o700 });
    return candidate;
  } catch {
    const fallback = join(homedir(), ".cache", "ptc");
    mkdirSync(fallback, { recursive: true, mode: 0o700 });
    return fallback;
  }
}
