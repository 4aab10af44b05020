import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  DEFAULT_MAX_CACHED_SNAPSHOTS,
  DEFAULT_SNAPSHOT_MIN_IDLE_MS,
  DEFAULT_SNAPSHOT_TIMEOUT_MS,
  ensureMemorySnapshot,
  markSnapshotUsed,
  pruneSnapshots,
} from "../../src/sandbox/memory-snapshot.js";
import { SandboxPool } from "../../src/sandbox/sandbox-pool.js";
import { SandboxProcess } from "../../src/sandbox/sandbox-process.js";
import { codeCachePathOf, resolveSandboxRuntime } from "../../src/sandbox/sandbox-runtime.js";
import { runPython } from "../helpers/sandbox-runs.js";

// The memory snapshots in ptc's cache (src/sandbox/memory-snapshot.ts): 30 MiB each, one per ptc version and
// child-script change, so the cache keeps the most recently used few and removes the rest once nobody used
// them for a day; a snapshot removed under a running pool costs a cold start, not a failed one.

const scratch = mkdtempSync(join(tmpdir(), "ptc-snapshot-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const HOUR = 3_600_000;
const NOW = Date.now();

/** A cache folder with these files, each last used `ageMs` ago. */
function cacheWith(files: Record<string, number>): string {
  const directory = mkdtempSync(join(scratch, "cache-"));
  for (const [name, ageMs] of Object.entries(files)) {
    const path = join(directory, name);
    writeFileSync(path, "x");
    const at = new Date(NOW - ageMs);
    utimesSync(path, at, at);
  }
  return directory;
}

/**
 * Points this process's cache at a folder of this file's own until the file ends: the first
 * `ensureMemorySnapshot` makes the snapshot there, and every later one resolves that one.
 */
const ownCache = mkdtempSync(join(scratch, "own-cache-"));
const savedCacheDirectory = process.env.PTC_CACHE_DIR;
function useOwnCache(): void {
  process.env.PTC_CACHE_DIR = ownCache;
}
after(() => {
  if (savedCacheDirectory === undefined) delete process.env.PTC_CACHE_DIR;
  else process.env.PTC_CACHE_DIR = savedCacheDirectory;
});

describe("the snapshot cache", () => {
  test("keeps the most recently used snapshots, removes older ones unused for a day, and stale temporaries", () => {
    assert.equal(DEFAULT_MAX_CACHED_SNAPSHOTS, 4);
    assert.equal(DEFAULT_SNAPSHOT_MIN_IDLE_MS, 24 * HOUR);
    const directory = cacheWith({
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot": 1 * HOUR,
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.snapshot": 30 * HOUR,
      "pyodide-314.0.7-cccccccccccccccc.snapshot": 40 * HOUR,
      "pyodide-314.0.7-dddddddddddddddd.snapshot": 50 * HOUR,
      // Beyond the newest four: removed once unused for a day, kept while used within one.
      "pyodide-314.0.7-eeeeeeeeeeeeeeee.snapshot": 60 * HOUR,
      "pyodide-314.0.6-ffffffffffffffff.snapshot": 70 * HOUR,
      // A writer that died before its rename left this; another is writing the second right now.
      "pyodide-314.0.7-1111111111111111.snapshot.4242.tmp": 2 * HOUR,
      "pyodide-314.0.7-2222222222222222.snapshot.4343.tmp": 0,
      // Not ptc's snapshots: never touched.
      "node-v26.10.0-linux-x64.tar.xz": 100 * HOUR,
      "notes.snapshot": 100 * HOUR,
    });
    const removed = pruneSnapshots(directory, 4, 24 * HOUR, NOW);
    assert.deepEqual(removed.sort(), [
      "pyodide-314.0.6-ffffffffffffffff.snapshot",
      "pyodide-314.0.7-1111111111111111.snapshot.4242.tmp",
      "pyodide-314.0.7-eeeeeeeeeeeeeeee.snapshot",
    ]);
    assert.deepEqual(readdirSync(directory).sort(), [
      "node-v26.10.0-linux-x64.tar.xz",
      "notes.snapshot",
      "pyodide-314.0.7-2222222222222222.snapshot.4343.tmp",
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot",
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.snapshot",
      "pyodide-314.0.7-cccccccccccccccc.snapshot",
      "pyodide-314.0.7-dddddddddddddddd.snapshot",
    ]);

    // Beyond the count but used within the day (another ptc version may be starting sandboxes from it): kept.
    const recent = cacheWith(
      Object.fromEntries(
        Array.from({ length: 8 }, (_, i) => [`pyodide-314.0.7-${String(i).repeat(16)}.snapshot`, i * HOUR]),
      ),
    );
    assert.deepEqual(pruneSnapshots(recent, 4, 24 * HOUR, NOW), []);
    assert.equal(readdirSync(recent).length, 8);
    // A missing folder is nothing to prune.
    assert.deepEqual(pruneSnapshots(join(scratch, "missing")), []);
  });

  test("a snapshot's code cache goes with it; one left without its snapshot goes after an hour", () => {
    const directory = cacheWith({
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot": 1 * HOUR,
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.code-cache": 1 * HOUR,
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.snapshot": 60 * HOUR,
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.code-cache": 60 * HOUR,
      // Its snapshot was removed by hand; and one whose writer is about to rename its snapshot in place.
      "pyodide-314.0.7-cccccccccccccccc.code-cache": 2 * HOUR,
      "pyodide-314.0.7-dddddddddddddddd.code-cache": 0,
      "pyodide-314.0.7-eeeeeeeeeeeeeeee.code-cache.4242.tmp": 2 * HOUR,
      "pyodide-314.0.7-ffffffffffffffff.code-cache.4343.tmp": 0,
    });
    assert.deepEqual(pruneSnapshots(directory, 1, 24 * HOUR, NOW).sort(), [
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.code-cache",
      "pyodide-314.0.7-bbbbbbbbbbbbbbbb.snapshot",
      "pyodide-314.0.7-cccccccccccccccc.code-cache",
      "pyodide-314.0.7-eeeeeeeeeeeeeeee.code-cache.4242.tmp",
    ]);
    assert.deepEqual(readdirSync(directory).sort(), [
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.code-cache",
      "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot",
      "pyodide-314.0.7-dddddddddddddddd.code-cache",
      "pyodide-314.0.7-ffffffffffffffff.code-cache.4343.tmp",
    ]);
  });

  test("using a snapshot marks it, so it ranks as recent; a removed one reports false", () => {
    const directory = cacheWith({ "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot": 100 * HOUR });
    const path = join(directory, "pyodide-314.0.7-aaaaaaaaaaaaaaaa.snapshot");
    assert.equal(markSnapshotUsed(path), true);
    assert.deepEqual(pruneSnapshots(directory, 0), [], "used just now: kept even past the count");
    rmSync(path);
    assert.equal(markSnapshotUsed(path), false);
  });

  test("sandboxes compile Pyodide's JavaScript from the code cache made with the snapshot, or without a usable one", async () => {
    const runtime = resolveSandboxRuntime();
    useOwnCache();
    const keepAlive = setInterval(() => {}, 1_000);
    const started = async (snapshot: string) => {
      const sandbox = new SandboxProcess(runtime, 256 * 1_048_576, snapshot);
      try {
        const { codeCache } = await sandbox.ready;
        assert.equal(await runPython(sandbox, "import json\nprint(json.dumps([6 * 7]))"), "[42]\n");
        return codeCache;
      } finally {
        sandbox.kill();
      }
    };
    try {
      const snapshot = await ensureMemorySnapshot(runtime);
      if (!snapshot?.startsWith(`${process.env.PTC_CACHE_DIR}/`)) assert.fail(`made elsewhere: ${snapshot}`);
      const codeCache = codeCachePathOf(snapshot);
      assert.ok(statSync(codeCache).size > 500_000, "V8's code cache of pyodide.asm.mjs, beside the snapshot");
      assert.equal(await started(snapshot), "accepted");
      // V8 checks what it reads: a cache of other bytes, or cut short, is refused, and the start compiles.
      writeFileSync(codeCache, randomBytes(statSync(codeCache).size));
      assert.equal(await started(snapshot), "rejected");
      truncateSync(codeCache, 100_000);
      assert.equal(await started(snapshot), "rejected");
      rmSync(codeCache);
      assert.equal(await started(snapshot), "none");
      assert.ok(readFileSync(snapshot).length > 1_000_000, "the snapshot itself is untouched");
    } finally {
      clearInterval(keepAlive);
    }
  });

  test("a snapshot maker that hangs is killed at its deadline, with its processes, and no snapshot is made", async () => {
    assert.ok(DEFAULT_SNAPSHOT_TIMEOUT_MS >= 60_000, "room for a maker on a slow machine");
    // The maker is the child script: here one that never ends (in a folder of its own: a snapshot name of its own).
    const folder = mkdtempSync(join(scratch, "hanging-child-"));
    const childScript = join(folder, "child.mjs");
    writeFileSync(childScript, "setInterval(() => {}, 1_000);\n");
    const runtime = { ...resolveSandboxRuntime(), childScript };
    useOwnCache();
    const started = performance.now();
    assert.equal(await ensureMemorySnapshot(runtime, 1_500), null);
    const waited = performance.now() - started;
    assert.ok(waited >= 1_400 && waited < 20_000, `resolved after ${waited.toFixed(0)} ms`);
    const left = readdirSync("/proc").filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(childScript);
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, [], "no process of the maker is left");
    assert.deepEqual(
      readdirSync(ownCache).filter((name) => name.includes("hanging") || name.includes(".tmp")),
      [],
    );
  });

  test("a Pyodide whose module does not take the linking change gets no snapshot; its sandboxes start cold", async () => {
    // A snapshot's function pointers name table slots as child-pyodide-js.ts links them, so one is made (and
    // restored) only that way. Here, a copy of the installed Pyodide whose Emscripten linker reads otherwise.
    const base = resolveSandboxRuntime();
    const pyodideDir = join(mkdtempSync(join(scratch, "pyodide-")), "pyodide");
    cpSync(base.pyodideDir, pyodideDir, { recursive: true });
    const moduleFile = join(pyodideDir, "pyodide.asm.mjs");
    writeFileSync(
      moduleFile,
      readFileSync(moduleFile, "utf8").replace("updateGOT(origExports);", "updateGOT(origExports,false);"),
    );
    // Another manifest: another snapshot name, not the one this file's other tests made.
    const manifest = join(pyodideDir, "package.json");
    writeFileSync(manifest, `${readFileSync(manifest, "utf8")}\n`);
    const runtime = { ...base, pyodideDir };
    useOwnCache();
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      assert.equal(await ensureMemorySnapshot(runtime), null);
      assert.deepEqual(
        readdirSync(ownCache).filter((name) => name.includes(".tmp")),
        [],
        "nothing half-written either",
      );
      const sandbox = new SandboxProcess(runtime, 256 * 1_048_576, null);
      try {
        assert.equal((await sandbox.ready).codeCache, "unavailable");
        assert.equal(await runPython(sandbox, "import json\nprint(json.dumps([6 * 7]))"), "[42]\n");
      } finally {
        sandbox.kill();
      }
    } finally {
      clearInterval(keepAlive);
    }
  });

  test("a pool whose snapshot was removed after it was made still starts sandboxes (cold) that run Python", async () => {
    const { nodePath } = resolveSandboxRuntime();
    useOwnCache();
    const pool = new SandboxPool({ size: 0, nodePath });
    // A starting sandbox does not keep the process alive (a pool's never do): this test does, meanwhile.
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      const snapshot = await ensureMemorySnapshot(pool.runtime);
      if (!snapshot?.startsWith(`${process.env.PTC_CACHE_DIR}/`)) assert.fail(`made elsewhere: ${snapshot}`);
      rmSync(snapshot);
      const sandbox = await pool.acquire();
      try {
        assert.equal(await runPython(sandbox, "print(6 * 7)"), "42\n");
        assert.equal(existsSync(snapshot), false, "a cold start does not write it back");
      } finally {
        sandbox.kill();
      }
    } finally {
      clearInterval(keepAlive);
      await pool.close();
    }
  });
});
