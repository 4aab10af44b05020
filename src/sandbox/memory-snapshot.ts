import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cacheDirectory } from "./cache-directory.js";
import { SANDBOX_ENV, type SandboxRuntime, sandboxCommand } from "./sandbox-runtime.js";

// src/sandbox/ in a checkout, dist/sandbox/ when installed: ptc's package.json is two folders up.
const PTC_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/**
 * The snapshot's file name in ptc's cache, which every ptc version and project of this user shares:
 * the Pyodide version, then a hash of all a snapshot depends on (the sandbox Node, ptc's version and
 * the child's scripts, the Pyodide package), so no two of them ever read each other's.
 */
function snapshotName(runtime: SandboxRuntime): string {
  const pyodideManifest = readFileSync(join(runtime.pyodideDir, "package.json"));
  const pyodideVersion = (JSON.parse(pyodideManifest.toString("utf8")) as { version: string }).version;
  const hash = createHash("sha256");
  hash.update(`${runtime.nodeVersion}\0${PTC_VERSION}\0`);
  // The child script and the modules beside it (child-*, the bridge and line splitter it shares with the
  // host, the guest's .py parts; .ts in a checkout, .js installed), in a stable order.
  const childDir = dirname(runtime.childScript);
  for (const name of readdirSync(childDir).sort()) {
    if (/\.(ts|js|py)$/.test(name)) hash.update(readFileSync(join(childDir, name)));
  }
  hash.update(pyodideManifest);
  return `pyodide-${pyodideVersion}-${hash.digest("hex").slice(0, 16)}.snapshot`;
}

const made = new Map<string, Promise<string | null>>();

/**
 * A memory snapshot of an initialised Pyodide, made once per runtime by a sandbox child under the
 * same isolation, so later sandboxes start in a few hundred ms. Resolves to null when snapshots
 * cannot be made here; sandboxes then start cold.
 */
export function ensureMemorySnapshot(runtime: SandboxRuntime): Promise<string | null> {
  const name = snapshotName(runtime);
  let pending = made.get(name);
  if (!pending) {
    pending = createSnapshot(runtime, name).catch(() => null);
    made.set(name, pending);
  }
  return pending;
}

async function createSnapshot(runtime: SandboxRuntime, name: string): Promise<string | null> {
  if (process.env.PTC_SNAPSHOT === "off") return null;
  const directory = cacheDirectory();
  const path = join(directory, name);
  if (existsSync(path)) return path;
  const { command, args } = sandboxCommand(runtime, 0, { path: null, make: true });
  const child = spawn(command, args, { env: { ...SANDBOX_ENV }, stdio: ["ignore", "pipe", "ignore"], cwd: "/" });
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
