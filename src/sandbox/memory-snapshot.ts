import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { type SandboxRuntime, sandboxCommand } from "./sandbox-runtime.js";

const require = createRequire(import.meta.url);

/**
 * Where snapshots live: a folder only this user can write, since whoever can write a snapshot
 * decides what every sandbox runs. `PTC_CACHE_DIR` overrides it.
 */
function cacheDirectory(): string {
  if (process.env.PTC_CACHE_DIR) return process.env.PTC_CACHE_DIR;
  const packageRoot = dirname(dirname(require.resolve("pyodide/package.json")));
  const inNodeModules = join(packageRoot, ".cache", "ptc");
  try {
    mkdirSync(inNodeModules, { recursive: true, mode: 0o700 });
    return inNodeModules;
  } catch {
    return join(homedir(), ".cache", "ptc");
  }
}

function snapshotKey(runtime: SandboxRuntime): string {
  const hash = createHash("sha256");
  hash.update(runtime.nodeVersion);
  hash.update(readFileSync(runtime.childScript));
  hash.update(readFileSync(join(runtime.pyodideDir, "package.json")));
  return hash.digest("hex").slice(0, 16);
}

const made = new Map<string, Promise<string | null>>();

/**
 * A memory snapshot of an initialised Pyodide, made once per runtime by a sandbox child under the
 * same isolation, so later sandboxes start in a few hundred ms. Resolves to null when snapshots
 * cannot be made here; sandboxes then start cold.
 */
export function ensureMemorySnapshot(runtime: SandboxRuntime): Promise<string | null> {
  const key = snapshotKey(runtime);
  let pending = made.get(key);
  if (!pending) {
    pending = createSnapshot(runtime, key).catch(() => null);
    made.set(key, pending);
  }
  return pending;
}

async function createSnapshot(runtime: SandboxRuntime, key: string): Promise<string | null> {
  if (process.env.PTC_SNAPSHOT === "off") return null;
  const directory = cacheDirectory();
  const path = join(directory, `pyodide-${key}.snapshot`);
  if (existsSync(path)) return path;
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const { command, args } = sandboxCommand(runtime, 0, { path: null, make: true });
  const child = spawn(command, args, { env: {}, stdio: ["ignore", "pipe", "ignore"], cwd: "/" });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const bytes = Buffer.concat(chunks);
  // A wasm memory image starts with the module's data; anything tiny is an error, not a snapshot.
  if (exitCode !== 0 || bytes.length < 1_000_000) return null;
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes, { mode: 0o600 });
  renameSync(temporary, path);
  return path;
}
