import assert from "node:assert/strict";
import { DEFAULT_MEMORY_BYTES } from "../../src/protocol/limits.js";
import type { SandboxProcess } from "../../src/sandbox/sandbox-process.js";

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
