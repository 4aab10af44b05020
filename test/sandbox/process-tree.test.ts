import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  descendants,
  MAX_OPEN_PROC_FILES,
  ProcessTree,
  readProc,
  wrapperExecutable,
} from "../../src/sandbox/process-tree.js";

// The host's reading of a sandbox's process tree from /proc (src/sandbox/process-tree.ts), on this test's own
// processes: Linux only, as the host's reading itself.
const linux = process.platform === "linux";
const openFds = () => readdirSync("/proc/self/fd").length;

/** Uses `ms` of this process's CPU (not of wall time: on a loaded machine the two part). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (let used = 0; used < ms * 1000; ) {
    for (let i = 0; i < 100_000; i++) x += Math.sqrt(x + i);
    const { user, system } = process.cpuUsage(start);
    used = user + system;
  }
  assert.ok(x > 0);
}

test("files kept open are read anew: CPU time and memory move between readings", { skip: !linux }, () => {
  const tree = new ProcessTree(process.pid);
  const cpuBefore = tree.cpuTimeMs();
  const bytesBefore = tree.residentBytes();
  assert.ok(cpuBefore !== undefined && bytesBefore !== undefined);
  burnCpu(150);
  const touched = Buffer.alloc(96 * 1024 * 1024, 1);
  const cpuAfter = tree.cpuTimeMs() ?? 0;
  const bytesAfter = tree.residentBytes() ?? 0;
  assert.ok(cpuAfter - cpuBefore >= 100, `CPU ${cpuBefore} -> ${cpuAfter} ms`);
  assert.ok(bytesAfter - bytesBefore >= 64 * 1024 * 1024, `resident ${bytesBefore} -> ${bytesAfter}`);
  assert.equal(touched[touched.length - 1], 1);
  tree.close();
});

/** Resident + swapped bytes of one process, read by path. */
function residentOf(pid: number): number {
  const status = readProc(`/proc/${pid}/status`) ?? "";
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return (kb("VmRSS") + kb("VmSwap")) * 1024;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

async function shWith(sleepers: number) {
  const root = spawn("sh", ["-c", `for i in $(seq ${sleepers}); do sleep 30 & done; wait`], { stdio: "ignore" });
  const pid = root.pid ?? 0;
  // Forked and exec'd: a child still between fork and exec is a copy of sh, whose resident set changes when it
  // becomes `sleep` (on a loaded machine, between this test's two readings).
  const asleep = () => descendants(pid).filter((each) => commOf(each) === "sleep").length;
  while (asleep() < sleepers) await new Promise((resolve) => setTimeout(resolve, 20));
  // And settled: a new `sleep` still maps and touches pages (its loader, libc) after the exec, until it sleeps.
  const resident = () => [pid, ...descendants(pid)].reduce((sum, each) => sum + residentOf(each), 0);
  for (let last = -1, now = resident(), tries = 0; now !== last && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = now;
    now = resident();
  }
  return {
    pid,
    async kill() {
      for (const each of descendants(pid)) process.kill(each, "SIGKILL");
      root.kill("SIGKILL");
      await once(root, "exit");
    },
  };
}

test("a tree counts its descendants, and reads nothing once its root is gone", { skip: !linux }, async () => {
  const fdsBefore = openFds();
  const sh = await shWith(2);
  const tree = new ProcessTree(sh.pid);
  const expected = [sh.pid, ...descendants(sh.pid)].reduce((sum, pid) => sum + residentOf(pid), 0);
  const read = tree.residentBytes() ?? 0;
  assert.ok(Math.abs(read - expected) < 256 * 1024, `${read} against ${expected}`);
  assert.ok(tree.cpuTimeMs() !== undefined);
  // 3 processes x (status, stat, children list) stay open; the child's 3 pipes are closed ("ignore").
  assert.equal(openFds() - fdsBefore, 9);
  await sh.kill();
  assert.equal(tree.residentBytes(), undefined);
  assert.equal(tree.cpuTimeMs(), undefined);
  tree.close();
  assert.equal(openFds(), fdsBefore, "no file of the tree is left open");
});

test("a tree keeps at most MAX_OPEN_PROC_FILES open, and still reads all of it", { skip: !linux }, async () => {
  const sleepers = MAX_OPEN_PROC_FILES + 4;
  const sh = await shWith(sleepers);
  const fdsBefore = openFds();
  const tree = new ProcessTree(sh.pid);
  const expected = [sh.pid, ...descendants(sh.pid)].reduce((sum, pid) => sum + residentOf(pid), 0);
  const read = tree.residentBytes() ?? 0;
  assert.ok(Math.abs(read - expected) < 1024 * 1024, `${read} against ${expected}`);
  assert.equal(openFds() - fdsBefore, MAX_OPEN_PROC_FILES);
  tree.close();
  assert.equal(openFds(), fdsBefore);
  await sh.kill();
});

test("a closed tree reads nothing", { skip: !linux }, () => {
  const tree = new ProcessTree(process.pid);
  tree.close();
  assert.equal(tree.cpuTimeMs(), undefined);
  assert.equal(tree.residentBytes(), undefined);
});

test("wrappers (processes running the wrapper's executable, with a child) are read once; the rest at every reading", {
  skip: !linux,
}, async () => {
  const shell = wrapperExecutable("/bin/sh");
  assert.ok(shell !== undefined);
  // sh (a wrapper: it has a child) -> sh busy-looping (the wrapper's executable, but no child: not a wrapper).
  const root = spawn("/bin/sh", ["-c", "/bin/sh -c 'while :; do :; done' & wait"], { stdio: "ignore" });
  const pid = root.pid ?? 0;
  const busy = async () => {
    for (;;) {
      const found = descendants(pid);
      if (found.length === 1 && commOf(found[0] ?? 0) === "sh") return found[0] ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const looping = await busy();
  try {
    const fdsBefore = openFds();
    const tree = new ProcessTree(pid, shell);
    const cpuBefore = tree.cpuTimeMs() ?? Number.NaN;
    const bytes = tree.residentBytes() ?? 0;
    const expected = residentOf(pid) + residentOf(looping);
    assert.ok(Math.abs(bytes - expected) < 256 * 1024, `${bytes} against ${expected}`);
    // The wrapper's children list, and the looping one's stat, status and children list: no stat or status of
    // the wrapper is kept (nor read again).
    assert.equal(openFds() - fdsBefore, 4);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const used = (tree.cpuTimeMs() ?? Number.NaN) - cpuBefore;
    // The looping process, which runs the wrapper's executable but has no child, is counted.
    assert.ok(used >= 200, `${used} ms of CPU in 400 ms of a busy loop`);
    process.kill(looping, "SIGKILL");
    root.kill("SIGKILL");
    await once(root, "exit");
    assert.equal(tree.cpuTimeMs(), undefined, "a wrapper root that is gone: nothing read");
    assert.equal(tree.residentBytes(), undefined);
    tree.close();
    assert.equal(openFds(), fdsBefore);
  } finally {
    try {
      process.kill(looping, "SIGKILL");
    } catch {}
    root.kill("SIGKILL");
  }
});

test("without a wrapper path, or for another executable, every process is read at every reading", {
  skip: !linux,
}, async () => {
  const sh = await shWith(1);
  for (const wrapper of [undefined, wrapperExecutable(process.execPath)]) {
    const fdsBefore = openFds();
    const tree = new ProcessTree(sh.pid, wrapper);
    assert.ok(tree.cpuTimeMs() !== undefined && tree.residentBytes() !== undefined);
    assert.equal(openFds() - fdsBefore, 6, "stat, status and children list of both processes");
    tree.close();
  }
  assert.equal(wrapperExecutable(null), undefined);
  assert.equal(wrapperExecutable("/nonexistent/bwrap"), undefined);
  await sh.kill();
});
