import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { IsolationReport, ScriptLanguage } from "../protocol/execution.js";
import { findSandboxNode, SANDBOX_NODE_VERSION, sandboxNodeInstallable } from "./sandbox-node.js";

/** Everything needed to start a sandbox child, decided once per process. */
export interface SandboxRuntime {
  nodePath: string;
  /** Where `nodePath` came from: the option, `PTC_SANDBOX_NODE`, `ptc setup`'s install, or this process's Node. */
  nodeSource: "option" | "PTC_SANDBOX_NODE" | "setup" | "host";
  nodeMajor: number;
  nodeVersion: string;
  childScript: string;
  pyodideDir: string;
  /** The JavaScript guest's engine (js-engine.ts): quickjs-emscripten-core's dist folder, and its wasm variant's. */
  quickJSDirs: QuickJSDirs;
  /** Whether the sandbox Node strips TypeScript types (`module.stripTypeScriptTypes`, Node >= 22.13). */
  typescript: boolean;
  bubblewrapPath: string | null;
  isolation: IsolationReport;
}

export interface SandboxRuntimeOptions {
  /** Node binary for the child. Default: the pinned sandbox Node (`ptc setup`), else this process's node. */
  nodePath?: string;
  /** `auto` (default) uses bubblewrap when it works here; `off` never does; `required` fails without it. */
  bubblewrap?: "auto" | "off" | "required";
}

export interface QuickJSDirs {
  core: string;
  variant: string;
  /** Read by the core's `export * from "@jitl/quickjs-ffi-types"`. */
  ffiTypes: string;
}

const require = createRequire(import.meta.url);

/** The QuickJS packages' folders, resolved from here as real paths (the permission model checks real paths). */
function findQuickJS(): QuickJSDirs {
  const core = dirname(require.resolve("quickjs-emscripten-core"));
  const fromCore = createRequire(join(core, "index.js"));
  return {
    core,
    variant: dirname(require.resolve("@jitl/quickjs-wasmfile-release-sync")),
    ffiTypes: dirname(fromCore.resolve("@jitl/quickjs-ffi-types")),
  };
}

/** The folder of a package's dist folder (what the child may read of it). */
const packageOf = (distDir: string) => dirname(distDir);
const here = dirname(fileURLToPath(import.meta.url));

function findChildScript(): string {
  // Installed: compiled JS. In a checkout run through tsx: the compiled child in dist/ when it is at least
  // as new as every source file of the child's folder, else the TS source, which Node >= 23 runs directly.
  // Compiled, a sandbox starts with ~0.2 s less CPU (no type stripping) and ~11 MiB less PSS.
  const compiled = join(here, "pyodide", "child.js");
  if (existsSync(compiled)) return compiled;
  const source = join(here, "pyodide");
  const built = join(here, "..", "..", "dist", "sandbox", "pyodide");
  return builtIsFresh(source, built) ? join(built, "child.js") : join(source, "child.ts");
}

/** Whether each .ts/.py file of `source` has its compiled counterpart in `built`, modified no earlier. */
function builtIsFresh(source: string, built: string): boolean {
  try {
    for (const name of readdirSync(source)) {
      if (!/\.(ts|py)$/.test(name)) continue;
      const output = join(built, name.replace(/\.ts$/, ".js"));
      if (!existsSync(output) || statSync(output).mtimeMs < statSync(join(source, name)).mtimeMs) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function findNode(explicit?: string): { path: string; source: SandboxRuntime["nodeSource"] } {
  if (explicit) return { path: explicit, source: "option" };
  const found = findSandboxNode();
  if (found) return { path: found, source: process.env.PTC_SANDBOX_NODE ? "PTC_SANDBOX_NODE" : "setup" };
  return { path: process.execPath, source: "host" };
}

function findOnPath(command: string): string | null {
  for (const folder of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const candidate = join(folder, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

function bubblewrapWorks(path: string): boolean {
  try {
    // The mounts every sandbox gets: in a container a fresh /proc is often what is refused (docs/deploy.md).
    const mounts = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"];
    execFileSync(path, ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", ...mounts, "true"], {
      stdio: "ignore",
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

let cached: SandboxRuntime | undefined;

export function resolveSandboxRuntime(options: SandboxRuntimeOptions = {}): SandboxRuntime {
  if (cached && !options.nodePath && !options.bubblewrap) return cached;
  const { path: nodePath, source: nodeSource } = findNode(options.nodePath);
  const nodeVersion = execFileSync(nodePath, ["--version"], { encoding: "utf8", env: {} }).trim();
  const nodeMajor = Number(nodeVersion.replace(/^v/, "").split(".")[0]);
  const mode = options.bubblewrap ?? "auto";
  let bubblewrapPath: string | null = null;
  if (mode !== "off" && process.platform === "linux") {
    const found = findOnPath("bwrap");
    if (found && bubblewrapWorks(found)) bubblewrapPath = found;
  }
  if (mode === "required" && !bubblewrapPath) {
    throw new Error("bubblewrap is required but `bwrap` is missing or cannot create namespaces here");
  }
  const pyodideDir = dirname(require.resolve("pyodide/pyodide.mjs"));
  const [major = 0, minor = 0] = nodeVersion.replace(/^v/, "").split(".").map(Number);
  // Node >= 25 extends the permission model to the network; Node 20's does not cover it.
  const permissionCoversNetwork = nodeMajor >= 25;
  const stackSwitching = nodeMajor >= 22;
  const notes: string[] = [];
  if (!bubblewrapPath) notes.push("bubblewrap not in use: no separate network, pid or mount namespace");
  if (!permissionCoversNetwork && !bubblewrapPath)
    notes.push(`Node ${nodeVersion} permission model does not cover the network`);
  if (nodeMajor < 22) notes.push("no WebAssembly stack switching: asyncio.run() inside scripts is unavailable");
  if (nodeMajor < 25)
    notes.push("run `npx ptc setup` to install the sandbox Node runtime with a network-aware permission model");
  const isolation: IsolationReport = {
    level: bubblewrapPath ? "namespaces" : nodeMajor >= 20 ? "permission-model" : "process",
    runtime: `pyodide ${readPyodideVersion()} in a child process`,
    nodeVersion,
    bubblewrap: bubblewrapPath !== null,
    networkBlocked: bubblewrapPath !== null || permissionCoversNetwork,
    filesystem: "pyodide-read-only",
    codeGenerationFromStrings: false,
    stackSwitching,
    notes,
  };
  const runtime: SandboxRuntime = {
    nodePath,
    nodeSource,
    nodeMajor,
    nodeVersion,
    childScript: findChildScript(),
    pyodideDir,
    quickJSDirs: findQuickJS(),
    typescript: major >= 23 || (major === 22 && minor >= 13),
    bubblewrapPath,
    isolation,
  };
  if (!options.nodePath && !options.bubblewrap) cached = runtime;
  return runtime;
}

/**
 * The Node sandboxes run on and what it lacks that the pinned sandbox Node has ("this host's Node v20.20.2,
 * without ..."), or null when it lacks nothing.
 */
export function degradedIsolation(runtime: SandboxRuntime): string | null {
  if (runtime.nodeMajor >= 25) return null;
  const lacking = ["a permission model that covers the network"];
  if (!runtime.isolation.stackSwitching) lacking.push("asyncio.run()");
  const node = {
    option: "the nodePath option's Node",
    PTC_SANDBOX_NODE: "PTC_SANDBOX_NODE's Node",
    setup: "Node",
    host: "this host's Node",
  }[runtime.nodeSource];
  return `${node} ${runtime.nodeVersion}, without ${lacking.join(" or ")}`;
}

/** The one line ptc prints when it runs sandboxes on a degraded runtime (`degraded` from `degradedIsolation`). */
export function degradedIsolationWarning(degraded: string, setupCanInstall = sandboxNodeInstallable()): string {
  const remedy = setupCanInstall
    ? `run \`npx ptc setup\` to install the sandbox runtime (Node ${SANDBOX_NODE_VERSION})`
    : `\`npx ptc setup\` has no sandbox runtime for ${process.platform}-${process.arch} yet: set PTC_SANDBOX_NODE to a Node >= 25`;
  return `ptc: warning: weaker isolation: sandboxes run on ${degraded}; ${remedy}`;
}

let warnedDegraded = false;

/**
 * Refuses a runtime weaker than the pinned sandbox Node where `ptc setup` can install that Node (a
 * PtcError `isolation_degraded`), unless `allowDegraded`; otherwise runs with it and says so on
 * stderr, once per process. Everything that starts sandboxes calls this first.
 */
export function checkSandboxIsolation(
  runtime: SandboxRuntime,
  allowDegraded = false,
  setupCanInstall = sandboxNodeInstallable(),
): void {
  const degraded = degradedIsolation(runtime);
  if (!degraded) return;
  if (setupCanInstall && !allowDegraded) {
    throw new PtcError(
      ErrorCode.IsolationDegraded,
      `sandboxes would run on ${degraded}: run \`npx ptc setup\` to install the sandbox runtime (Node ${SANDBOX_NODE_VERSION}), or accept the weaker isolation with --allow-degraded-isolation (createEngine: pool.allowDegradedIsolation)`,
      {
        nodeVersion: runtime.nodeVersion,
        nodeSource: runtime.nodeSource,
        platform: `${process.platform}-${process.arch}`,
      },
    );
  }
  if (warnedDegraded) return;
  warnedDegraded = true;
  process.stderr.write(`${degradedIsolationWarning(degraded, setupCanInstall)}\n`);
}

const javascriptReports = new WeakMap<SandboxRuntime, IsolationReport>();

/**
 * What an execution in `language` reports: a JavaScript or TypeScript script runs in QuickJS inside the same
 * child process, behind the same layers, so only the runtime's name differs from the Python guest's report.
 */
export function isolationFor(runtime: SandboxRuntime, language: ScriptLanguage): IsolationReport {
  if (language === "python") return runtime.isolation;
  let report = javascriptReports.get(runtime);
  if (!report) {
    // The package's exports do not include its package.json: read it beside its dist folder.
    const manifest = JSON.parse(readFileSync(join(runtime.quickJSDirs.core, "..", "package.json"), "utf8")) as {
      version: string;
    };
    report = { ...runtime.isolation, runtime: `quickjs (quickjs-emscripten ${manifest.version}) in a child process` };
    javascriptReports.set(runtime, report);
  }
  return report;
}

function readPyodideVersion(): string {
  const manifest = require("pyodide/package.json") as { version: string };
  return manifest.version;
}

/**
 * The sandbox child's whole environment (it gets nothing of the host's): glibc's malloc settings for the
 * child's own allocations. A fixed trim threshold returns freed heap to the system; by default glibc
 * raises the threshold after large frees and keeps ~35 MB a warm sandbox no longer uses (RSS 211 -> 177
 * MiB, PSS 154 -> 120 MiB of the node process, same CPU to ready). Python's heap is the wasm memory,
 * which this does not touch.
 */
export const SANDBOX_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: "131072" };

/**
 * V8's code cache of Pyodide's JavaScript, made with a memory snapshot (memory-snapshot.ts): its file beside
 * the snapshot's. A sandbox started from the snapshot reads it if it is there.
 */
export function codeCachePathOf(snapshotPath: string): string {
  return `${snapshotPath.replace(/\.snapshot$/, "")}.code-cache`;
}

/** The command line that starts one sandbox child: Node's permission flags, inside bubblewrap when present. */
export function sandboxCommand(
  runtime: SandboxRuntime,
  memoryBytes: number,
  snapshot: { path: string | null; make?: boolean } = { path: null },
): { command: string; args: string[] } {
  const childDir = dirname(runtime.childScript);
  const snapshotPath = snapshot.make ? null : snapshot.path;
  const codeCachePath = snapshotPath ? codeCachePathOf(snapshotPath) : null;
  const quickJS = runtime.quickJSDirs;
  // The JavaScript guest's engine: its three packages, read only (js-engine.ts imports them at start-up).
  const quickJSPackages = [packageOf(quickJS.core), packageOf(quickJS.variant), packageOf(quickJS.ffiTypes)];
  const nodeFlags = [
    runtime.nodeMajor >= 22 ? "--permission" : "--experimental-permission",
    `--allow-fs-read=${runtime.pyodideDir}/`,
    // The child's folder: child.ts, its modules, and the bridge (bridge.ts) it imports like the host does.
    `--allow-fs-read=${childDir}/`,
    ...(snapshotPath ? [`--allow-fs-read=${snapshotPath}`] : []),
    ...(codeCachePath ? [`--allow-fs-read=${codeCachePath}`] : []),
    ...quickJSPackages.map((folder) => `--allow-fs-read=${folder}/`),
    "--disallow-code-generation-from-strings",
    "--max-old-space-size=1024",
    "--no-warnings",
    // The child takes `gc` before any guest code runs and deletes it (child-instance.ts): a reset collects
    // the interpreter it replaced at once.
    "--expose-gc",
    // GC on the child's main thread only: V8's parallel and concurrent GC helpers save wall time for one
    // process, but a host runs many sandboxes on few cores, where they only add CPU. Measured on 2 cores: a
    // reset's GC helpers 70-130 -> ~28 ms of CPU (main thread +25 ms), a burst of 20 executions 7.2 -> 6.5 s
    // of CPU, sequential calls unchanged (BENCHMARKS.md, "Resets").
    "--single-threaded-gc",
    // Full GCs atomic, without incremental marking: a sandbox's heap is small (~14 MB live) and one script runs
    // at a time, so a pause costs no one else's latency, and a reset's forced GC found a marking under way
    // every time, finished it (marking only what was live when it began) and then marked the whole heap
    // again. Measured with child-heap.ts `collectForBuild`: a reset ~155-169 -> ~111-113 ms of CPU.
    "--no-incremental-marking",
    // Not `--v8-pool-size=1` (one V8 worker instead of four, ~4 MiB less PSS per warm sandbox): with one
    // worker, the tier-up a start's warm-up queues was still compiling after ready, and a container's first
    // idle 0.7 s used 370-390 ms of CPU (test/adversarial/resources.test.ts "tasks a script leaves behind",
    // 0 ms with four; two workers: 50 ms, and no less memory).
    // V8 runs wasm in a baseline tier (Liftoff) first and optimises a function with TurboFan, on its workers,
    // once the function has used up this budget. High enough that a new sandbox does not optimise what only
    // its own start-up ran hot, low enough that what its runs keep hot is optimised within a few of them.
    // Per start (6-8 each, alternated, 2 cores): budget 1,000,000 (until stop 25) ~1.3-1.5 s of CPU, ~0.6-0.8
    // s of it on V8's workers (TurboFan compiled CPython's eval loop, 79 KB of wasm, twice: ~150 ms each);
    // 100,000,000 ~1.0-1.1 s, workers ~0.4 s; 300,000,000 ~0.85-1.05 s, but a gather of 1,000 in a new
    // container then stayed ~20-30% slower for its first ~20 runs (at 100,000,000 as fast as at 1,000,000,
    // within the noise); 10,000,000 saved nothing. `--liftoff-only` (~0.75 s a start) leaves CPU-bound
    // scripts 2x slower for good (BENCHMARKS.md, "What changed (stop 25)").
    ...(runtime.nodeMajor >= 22 ? ["--wasm-tiering-budget=100000000"] : []),
  ];
  if (runtime.nodeMajor >= 22 && runtime.nodeMajor < 24) nodeFlags.push("--experimental-wasm-jspi");
  const nodeArgs = [
    ...nodeFlags,
    runtime.childScript,
    runtime.pyodideDir,
    String(memoryBytes),
    snapshotPath ?? "",
    snapshot.make ? "make-snapshot" : "",
    quickJS.core,
    quickJS.variant,
    codeCachePath ?? "",
  ];
  if (!runtime.bubblewrapPath) return { command: runtime.nodePath, args: nodeArgs };
  const readOnly = (path: string) => ["--ro-bind", path, path];
  const args = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    ...Object.entries(SANDBOX_ENV).flatMap(([name, value]) => ["--setenv", name, value]),
    "--cap-drop",
    "ALL",
    // Mounts first: a tmpfs on /tmp mounted after the binds would hide a checkout under /tmp.
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    ...readOnly("/usr"),
    "--ro-bind-try",
    "/lib",
    "/lib",
    "--ro-bind-try",
    "/lib64",
    "/lib64",
    ...readOnly(dirname(runtime.nodePath)),
    ...readOnly(runtime.pyodideDir),
    ...readOnly(childDir),
    ...(snapshotPath ? readOnly(snapshotPath) : []),
    // The snapshot's maker may not have made one (a Node without it), or the file is gone: then none.
    ...(codeCachePath ? ["--ro-bind-try", codeCachePath, codeCachePath] : []),
    ...quickJSPackages.flatMap(readOnly),
    "--",
    runtime.nodePath,
    ...nodeArgs,
  ];
  return { command: runtime.bubblewrapPath, args };
}
