import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { IsolationReport } from "../protocol/execution.js";
import { findSandboxNode } from "./sandbox-node.js";

/** Everything needed to start a sandbox child, decided once per process. */
export interface SandboxRuntime {
  nodePath: string;
  nodeMajor: number;
  nodeVersion: string;
  childScript: string;
  pyodideDir: string;
  bubblewrapPath: string | null;
  isolation: IsolationReport;
}

export interface SandboxRuntimeOptions {
  /** Node binary for the child. Default: the pinned sandbox Node (`ptc setup`), else this process's node. */
  nodePath?: string;
  /** `auto` (default) uses bubblewrap when it works here; `off` never does; `required` fails without it. */
  bubblewrap?: "auto" | "off" | "required";
}

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

function findChildScript(): string {
  // Installed: compiled JS. In a checkout run through tsx: the TS source, which Node >= 23 runs directly.
  const compiled = join(here, "pyodide", "child.js");
  return existsSync(compiled) ? compiled : join(here, "pyodide", "child.ts");
}

function findNode(explicit?: string): string {
  return explicit ?? findSandboxNode() ?? process.execPath;
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
    execFileSync(path, ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"], {
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
  const nodePath = findNode(options.nodePath);
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
  // Node >= 25 extends the permission model to the network; Node 20's does not cover it.
  const permissionCoversNetwork = nodeMajor >= 25;
  const stackSwitching = nodeMajor >= 22;
  const notes: string[] = [];
  if (!bubblewrapPath) notes.push("bubblewrap not in use: no separate network, pid or mount namespace");
  if (!permissionCoversNetwork && !bubblewrapPath)
    notes.push(`Node ${nodeVersion} permission model does not cover the network`);
  if (nodeMajor < 22) notes.push("no WebAssembly stack switching: asyncio.run() inside scripts is unavailable");
  if (nodeMajor < 25)
    notes.push("run `ptc setup` to install the sandbox Node runtime with a network-aware permission model");
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
    nodeMajor,
    nodeVersion,
    childScript: findChildScript(),
    pyodideDir,
    bubblewrapPath,
    isolation,
  };
  if (!options.nodePath && !options.bubblewrap) cached = runtime;
  return runtime;
}

function readPyodideVersion(): string {
  const manifest = require("pyodide/package.json") as { version: string };
  return manifest.version;
}

/** The command line that starts one sandbox child: Node's permission flags, inside bubblewrap when present. */
export function sandboxCommand(
  runtime: SandboxRuntime,
  memoryBytes: number,
  snapshot: { path: string | null; make?: boolean } = { path: null },
): { command: string; args: string[] } {
  const childDir = dirname(runtime.childScript);
  const snapshotPath = snapshot.make ? null : snapshot.path;
  const nodeFlags = [
    runtime.nodeMajor >= 22 ? "--permission" : "--experimental-permission",
    `--allow-fs-read=${runtime.pyodideDir}/`,
    `--allow-fs-read=${childDir}/`,
    ...(snapshotPath ? [`--allow-fs-read=${snapshotPath}`] : []),
    "--disallow-code-generation-from-strings",
    "--max-old-space-size=1024",
    "--no-warnings",
    // V8 runs wasm in a baseline tier first and optimises hot functions in the background; a lower
    // budget finishes that during the start-up warm-up instead of during the first executions
    // (one-off warm start ~8 ms -> ~4 ms, for ~0.2 s more start-up).
    ...(runtime.nodeMajor >= 22 ? ["--wasm-tiering-budget=50000"] : []),
  ];
  if (runtime.nodeMajor >= 22 && runtime.nodeMajor < 24) nodeFlags.push("--experimental-wasm-jspi");
  const nodeArgs = [
    ...nodeFlags,
    runtime.childScript,
    runtime.pyodideDir,
    String(memoryBytes),
    snapshotPath ?? "",
    snapshot.make ? "make-snapshot" : "",
  ];
  if (!runtime.bubblewrapPath) return { command: runtime.nodePath, args: nodeArgs };
  const readOnly = (path: string) => ["--ro-bind", path, path];
  const args = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
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
    "--",
    runtime.nodePath,
    ...nodeArgs,
  ];
  return { command: runtime.bubblewrapPath, args };
}
