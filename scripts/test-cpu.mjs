// CPU seconds (user + system) each test file costs, its whole process tree included: sandboxes, `ptc serve`
// subprocesses, MCP servers. scripts/run-tests.mjs prints them per file and in total: CPU, unlike the wall,
// does not depend on what else the machine runs, so it is the figure to compare between runs.
//
// Two measures, both Linux-only:
// - reaped: /proc/self/stat's cutime + cstime, which grow by a child's whole tree's total the moment the
//   child is reaped (its descendants' included once each was reaped by its own parent). Read as each file's
//   process exits, the growth is that file's. It misses processes orphaned inside the tree: a sandbox whose
//   `ptc serve` was killed with SIGKILL is re-parented to init, and init reaps it.
// - group: a cpuacct cgroup (v1) per file, joined by its process right after it starts; every descendant
//   inherits it, orphans included. Needs root and a writable /sys/fs/cgroup/cpuacct; without them, reaped.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Clock ticks a second, the unit of /proc's CPU times (USER_HZ: 100 on every Linux build). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** This process's reaped children's CPU seconds so far, or undefined off Linux. */
function reapedChildrenSeconds() {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // The fields after "(comm) ": state is the first; cutime and cstime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

const round = (seconds) => Math.round(seconds * 100) / 100;

/**
 * The reaped measure: `take()`, called as a file's process exits (its "exit" event, right after the reap),
 * returns the growth since the last take. Two files reaped in the same turn of the event loop would both
 * land on the first one's take; the total stays exact.
 */
export function reapedCpu() {
  let last = reapedChildrenSeconds();
  return {
    take() {
      const now = reapedChildrenSeconds();
      const delta = now === undefined || last === undefined ? undefined : round(now - last);
      last = now;
      return delta;
    },
  };
}

/**
 * Where the groups go: inside this process's own cpuacct group, so that whatever measures the whole run
 * (a wrapper's group) still counts the files.
 */
const CGROUP_PARENT = (() => {
  try {
    const line = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((entry) => entry.split(":")[1]?.split(",").includes("cpuacct"));
    return join("/sys/fs/cgroup/cpuacct", line?.split(":")[2] ?? "/");
  } catch {
    return "/sys/fs/cgroup/cpuacct";
  }
})();
let groups = 0;
/** Groups an orphan still lived in when their file ended: removed by `removeLeftGroups()`. */
const left = new Set();

/** Removes the groups whose last orphans have gone since; call once at the end of a run. */
export function removeLeftGroups() {
  for (const path of left) {
    try {
      rmdirSync(path);
      left.delete(path);
    } catch {}
  }
}

/**
 * The group measure for the process `pid`, just started (before it has started any child of its own):
 * `seconds()` is its tree's CPU so far, `remove()` deletes the group once every process in it is gone (it
 * stays, empty of work, if an orphan still lives). Undefined where cgroups cannot be made.
 */
export function cpuGroup(pid) {
  const path = join(CGROUP_PARENT, `ptc-test-${process.pid}-${++groups}`);
  try {
    mkdirSync(path);
    writeFileSync(join(path, "cgroup.procs"), String(pid));
  } catch {
    try {
      rmdirSync(path);
    } catch {}
    return undefined;
  }
  return {
    seconds: () => round(Number(readFileSync(join(path, "cpuacct.usage"), "utf8")) / 1e9),
    remove() {
      try {
        rmdirSync(path);
      } catch {
        left.add(path);
      }
    },
  };
}
