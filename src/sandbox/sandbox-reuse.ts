// Whether a sandbox given back after a clean one-off execution must be reset before it serves another.
// A reset replaces the Pyodide instance and puts the child's JS realm back (~0.17-0.22 s of CPU on a quiet
// machine, more under load; BENCHMARKS.md): needed after Python ran, because Python reaches that realm through `import js`. A
// JavaScript or TypeScript run never touches either: its QuickJS is a wasm instance of its own, created for
// the run and dropped at its end (src/sandbox/pyodide/js-engine.ts), and it reaches nothing of the child but
// the host functions of js-guest.ts. So a sandbox that ran only JavaScript since its start or last reset
// goes straight back to the pool. Such reuses count against the pool's `maxResets` like resets, so a
// process is still retired after as many executions.
import type { GuestLanguage } from "./pyodide/bridge.js";
import type { SandboxProcess } from "./sandbox-process.js";

/** What one sandbox process ran and served since it started: what the decisions below read. */
export class SandboxUse {
  #resets = 0;
  #reuses = 0;
  #pythonRan = false;

  /** Resets completed on this process. */
  get resets(): number {
    return this.#resets;
  }

  /** Times this process was handed to another execution without a reset (JavaScript only since its last). */
  get reuses(): number {
    return this.#reuses;
  }

  /**
   * Whether a Python script ran since the process started or was last reset. A JavaScript run never touches
   * the Pyodide instance, so a sandbox that ran only JavaScript is as clean as a reset one.
   */
  get pythonRan(): boolean {
    return this.#pythonRan;
  }

  ran(language: GuestLanguage): void {
    if (language === "python") this.#pythonRan = true;
  }

  wasReset(): void {
    this.#resets++;
    this.#pythonRan = false;
  }

  wasReused(): void {
    this.#reuses++;
  }
}

export function needsReset(sandbox: Pick<SandboxProcess, "pythonRan">): boolean {
  return sandbox.pythonRan;
}

/** Executions this process served after its first: resets and reuses without one. */
export function timesServedAgain(sandbox: Pick<SandboxProcess, "resets" | "reuses">): number {
  return sandbox.resets + sandbox.reuses;
}
