// Whether a sandbox given back after a clean one-off execution must be reset before it serves another.
// A reset replaces the Pyodide instance and puts the child's JS realm back (~460 ms of CPU under load,
// BENCHMARKS.md): needed after Python ran, because Python reaches that realm through `import js`. A
// JavaScript or TypeScript run never touches either: its QuickJS is a wasm instance of its own, created for
// the run and dropped at its end (src/sandbox/pyodide/js-engine.ts), and it reaches nothing of the child but
// the host functions of js-guest.ts. So a sandbox that ran only JavaScript since its start or last reset
// goes straight back to the pool. Such reuses count against the pool's `maxResets` like resets, so a
// process is still retired after as many executions.
import type { SandboxProcess } from "./sandbox-process.js";

export function needsReset(sandbox: Pick<SandboxProcess, "pythonRan">): boolean {
  return sandbox.pythonRan;
}

/** Executions this process served after its first: resets and reuses without one. */
export function timesServedAgain(sandbox: Pick<SandboxProcess, "resets" | "reuses">): number {
  return sandbox.resets + sandbox.reuses;
}
