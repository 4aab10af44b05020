import assert from "node:assert/strict";
import { after } from "node:test";
import { DEFAULT_MEMORY_BYTES } from "../../src/protocol/limits.js";
import { ensureMemorySnapshot } from "../../src/sandbox/memory-snapshot.js";
import { SandboxProcess } from "../../src/sandbox/sandbox-process.js";
import { resolveSandboxRuntime } from "../../src/sandbox/sandbox-runtime.js";

/** Runs Python `code` in a bare sandbox (no tools, default caps), asserts it completed, resolves to its output. */
export async function runPython(sandbox: SandboxProcess, code: string): Promise<string> {
  const output: string[] = [];
  const outcome = await sandbox.run(
    {
      code,
      language: "python",
      tools: [],
      resultMode: "json",
      maxOutputBytes: 65_536,
      memoryBytes: DEFAULT_MEMORY_BYTES,
    },
    { onToolCall: () => {}, onOutput: (_stream, text) => output.push(text) },
  );
  assert.equal(outcome.kind === "done" && !outcome.error, true, JSON.stringify(outcome));
  return output.join("");
}

/**
 * Starts bare sandboxes from the memory snapshot with `memoryBytes` of wasm memory, each killed (and its
 * process gone) once the test file's tests are done.
 */
export async function sandboxStarter(memoryBytes: number): Promise<() => Promise<SandboxProcess>> {
  const runtime = resolveSandboxRuntime();
  const snapshot = await ensureMemorySnapshot(runtime);
  const sandboxes: SandboxProcess[] = [];
  after(async () => {
    for (const sandbox of sandboxes) {
      sandbox.kill();
      await sandbox.closed;
    }
  });
  return async () => {
    const sandbox = new SandboxProcess(runtime, memoryBytes, snapshot);
    sandboxes.push(sandbox);
    await sandbox.ready;
    return sandbox;
  };
}
