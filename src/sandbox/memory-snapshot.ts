import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { cacheDirectory } from "./cache-directory.js";
import { descendants } from "./process-tree.js";
import { decodeSnapshotOutput } from "./pyodide/snapshot-output.js";
import { codeCachePathOf, SANDBOX_ENV, type SandboxRuntime, sandboxCommand } from "./sandbox-runtime.js";

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
 * Memory snapshots the cache keeps (30 MiB each): every ptc version, and every change to the child's scripts
 * in a checkout, makes a new one, and nothing else ever removes the old. Past this many, the least recently
 * used go, once they are also older than `DEFAULT_SNAPSHOT_MIN_IDLE_MS`.
 */
export const DEFAULT_MAX_CACHED_SNAPSHOTS = 4;
/**
 * A snapshot used (made, or first found by a process) within this long is kept whatever the count: another
 * ptc version on this machine may be starting sandboxes from it. A day; each process marks its own on first use.
 */
export const DEFAULT_SNAPSHOT_MIN_IDLE_MS = 24 * 3_600_000;
/** A temporary file a snapshot's writer left (it died before the rename) is removed after this long. */
const STALE_TEMPORARY_MS = 3_600_000;
const SNAPSHOT_FILE = /^pyodide-.+\.snapshot$/;
const CODE_CACHE_FILE = /^pyodide-.+\.code-cache$/;
const TEMPORARY_FILE = /^pyodide-.+\.(snapshot|code-cache)\.\d+\.tmp$/;

const snapshotOf = (codeCacheName: string) => codeCacheName.replace(/\.code-cache$/, ".snapshot");

/**
 * Removes the cache's least recently used snapshots beyond `keep` that nobody used for `minIdleMs` (with the
 * code cache made beside each), code caches whose snapshot is gone, and temporary files writers left
 * behind; returns the names removed. Never throws: a file another process removed first, or one it can't
 * remove, is skipped.
 */
export function pruneSnapshots(
  directory: string,
  keep = DEFAULT_MAX_CACHED_SNAPSHOTS,
  minIdleMs = DEFAULT_SNAPSHOT_MIN_IDLE_MS,
  now = Date.now(),
): string[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  const used = (name: string): number => {
    try {
      return statSync(join(directory, name)).mtimeMs;
    } catch {
      return Number.NaN;
    }
  };
  const snapshots = names
    .filter((name) => SNAPSHOT_FILE.test(name))
    .map((name) => ({ name, usedAt: used(name) }))
    .filter((each) => !Number.isNaN(each.usedAt))
    .sort((a, b) => b.usedAt - a.usedAt);
  const pruned = snapshots.slice(keep).filter((each) => now - each.usedAt >= minIdleMs);
  const present = new Set(names.filter((name) => SNAPSHOT_FILE.test(name)));
  const doomed = [
    ...pruned,
    ...pruned.map((each) => ({ name: codeCachePathOf(each.name) })).filter((each) => names.includes(each.name)),
    // A code cache is written just before its snapshot (createSnapshot): one without a snapshot only counts
    // as left behind once it is as old as a temporary file.
    ...names
      .filter((name) => TEMPORARY_FILE.test(name) || (CODE_CACHE_FILE.test(name) && !present.has(snapshotOf(name))))
      .map((name) => ({ name, usedAt: used(name) }))
      .filter((each) => now - each.usedAt >= STALE_TEMPORARY_MS),
  ];
  const removed: string[] = [];
  for (const { name } of doomed) {
    try {
      unlinkSync(join(directory, name));
      removed.push(name);
    } catch {}
  }
  return removed;
}

/**
 * Marks a snapshot used now (its mtime), so a prune by another ptc version keeps it; false when it is gone
 * (pruned by one after a day unused, or deleted by hand): the caller then starts its sandbox without it.
 * A snapshot that can't be marked but is there (a read-only cache baked into an image) is used as it is.
 */
export function markSnapshotUsed(path: string): boolean {
  try {
    const now = new Date();
    utimesSync(path, now, now);
    return true;
  } catch {
    return existsSync(path);
  }
}

/**
 * How long the snapshot maker may take: it makes one interpreter and writes its memory (~4-5 s on 2 cores,
 * ~2 s of it Pyodide's cold start). Every pool start waits for it, so a maker that hangs would hold them all;
 * past this it is killed and sandboxes start cold.
 */
export const DEFAULT_SNAPSHOT_TIMEOUT_MS = 120_000;
/** The most the host reads from the maker: a snapshot is ~30 MiB with its code cache; more is an error. */
export const MAX_SNAPSHOT_OUTPUT_BYTES = 256 * 1_048_576;

/**
 * A memory snapshot of an initialised Pyodide, made once per runtime by a sandbox child under the
 * same isolation, so later sandboxes start in a few hundred ms. Resolves to null when snapshots
 * cannot be made here (the maker failed, wrote too much, or outlived `timeoutMs`); sandboxes then start
 * cold.
 */
export function ensureMemorySnapshot(
  runtime: SandboxRuntime,
  timeoutMs = DEFAULT_SNAPSHOT_TIMEOUT_MS,
): Promise<string | null> {
  const name = snapshotName(runtime);
  let pending = made.get(name);
  if (!pending) {
    pending = createSnapshot(runtime, name, timeoutMs).catch(() => null);
    made.set(name, pending);
  }
  return pending;
}

async function createSnapshot(runtime: SandboxRuntime, name: string, timeoutMs: number): Promise<string | null> {
  if (process.env.PTC_SNAPSHOT === "off") return null;
  const directory = cacheDirectory();
  const path = join(directory, name);
  if (markSnapshotUsed(path)) return path;
  const { command, args } = sandboxCommand(runtime, 0, { path: null, make: true });
  const child = spawn(command, args, { env: { ...SANDBOX_ENV }, stdio: ["ignore", "pipe", "ignore"], cwd: "/" });
  let stopped = false;
  // bubblewrap forks (its pid-namespace init, then node): the whole tree, as SandboxProcess.kill does.
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const pid of child.pid === undefined ? [] : descendants(child.pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    child.kill("SIGKILL");
  };
  const deadline = setTimeout(stop, timeoutMs);
  const chunks: Buffer[] = [];
  let size = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > MAX_SNAPSHOT_OUTPUT_BYTES) stop();
    else chunks.push(chunk);
  });
  const exitCode = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(deadline);
  const made = exitCode === 0 && !stopped ? decodeSnapshotOutput(Buffer.concat(chunks)) : null;
  // A wasm memory image starts with the module's data; anything tiny is an error, not a snapshot.
  if (made === null || made.snapshot.length < 1_000_000) return null;
  // The code cache first: a sandbox that finds the snapshot finds it too.
  if (made.codeCache.length > 0) writeAtomically(codeCachePathOf(path), made.codeCache);
  writeAtomically(path, made.snapshot);
  pruneSnapshots(directory);
  return path;
}

/** Writes a file under a temporary name, then renames it: a reader sees all of it or none. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes, { mode: 0o600 });
  renameSync(temporary, path);
}
