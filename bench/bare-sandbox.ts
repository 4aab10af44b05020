import { DEFAULT_MEMORY_BYTES } from "../src/protocol/limits.js";
import type { GuestLanguage } from "../src/sandbox/pyodide/bridge.js";
import type { SandboxProcess } from "../src/sandbox/sandbox-process.js";

/**
 * Runs `code` in a bare SandboxProcess (no engine) whose one tool, `noop`, is answered at once with its
 * input's `x`, as the bench's in-process handler answers; throws unless the script completed.
 */
export async function runAnsweringNoop(
  sandbox: SandboxProcess,
  code: string,
  language: GuestLanguage = "python",
): Promise<void> {
  const outcome = await sandbox.run(
    {
      code,
      language,
      tools: [{ name: "noop", pythonName: "noop" }],
      resultMode: "json",
      maxOutputBytes: 1_048_576,
      memoryBytes: DEFAULT_MEMORY_BYTES,
    },
    {
      onToolCall: (callId, _name, inputJson) =>
        sandbox.sendToolResult(callId, true, String((JSON.parse(inputJson) as { x: number }).x)),
      onOutput: () => {},
    },
  );
  if (outcome.kind !== "done" || outcome.error) throw new Error(`run failed: ${JSON.stringify(outcome).slice(0, 400)}`);
}
