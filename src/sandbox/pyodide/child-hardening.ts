// Powers of the sandbox child's Node that guest code must not reach or replace. Part of the child:
// erasable syntax and node: builtins only (see child.ts).
import { createRequire } from "node:module";

// Emscripten implements C's system() with child_process.spawnSync (reachable from Python through
// os.system or ctypes). The permission model refuses it by throwing inside a wasm import, which is
// a fatal Pyodide error; answer "command failed" instead, and never inherit our stdout.
export function refuseSubprocesses(): void {
  const childProcess = createRequire(import.meta.url)("node:child_process") as Record<string, unknown>;
  const refusedSync = () => ({ pid: 0, output: [], stdout: "", stderr: "", status: 127, signal: null });
  const refused = () => {
    throw new Error("subprocesses are disabled in the ptc sandbox");
  };
  for (const name of ["spawnSync", "execSync", "execFileSync"]) childProcess[name] = refusedSync;
  for (const name of ["spawn", "exec", "execFile", "fork"]) childProcess[name] = refused;
}

type CallSite = { getFunctionName(): string | null };
function prepareStackTrace(error: unknown, frames: readonly CallSite[]): string {
  let text = "Error";
  try {
    text = String(error);
  } catch {}
  for (let index = 0; index < frames.length; index++) {
    let name: string | null = null;
    try {
      name = (frames[index] as CallSite).getFunctionName();
    } catch {}
    text += `\n    at ${name ?? "<anonymous>"} (sandbox)`;
  }
  return text;
}

// Stack traces name functions only: the default format carries host paths (file:///...), and a guest's
// own Error.prepareStackTrace would receive CallSite objects whose getThis() reaches the interpreter's
// WebAssembly instance. Fixed for the life of the sandbox, before any guest code runs.
export function lockStackTraces(): void {
  Object.defineProperty(Error, "prepareStackTrace", { value: prepareStackTrace, writable: false, configurable: false });
}
