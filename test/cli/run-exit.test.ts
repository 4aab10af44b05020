import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

// Runs bin/ptc.js, which runs dist/: `npm run build` first.

/** Runs `ptc run` on `code`; resolves with when the summary appeared and when the process exited. */
async function runTimed(
  code: string,
): Promise<{ stdout: string; stderr: string; exitCode: number | null; afterSummaryMs: number }> {
  const directory = await mkdtemp(join(tmpdir(), "ptc-exit-"));
  after(() => rm(directory, { recursive: true, force: true }));
  const script = join(directory, "script.py");
  await writeFile(script, code);
  const child = spawn(process.execPath, ["bin/ptc.js", "run", "--tools", "test/fixtures/abandoned-tools.ts", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let summaryAt: number | undefined;
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    if (summaryAt === undefined && stderr.includes("── ptc")) summaryAt = performance.now();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [exitCode] = (await once(child, "exit")) as [number | null];
  clearTimeout(killer);
  assert.ok(summaryAt !== undefined, `no summary: ${stderr}`);
  return { stdout, stderr, exitCode, afterSummaryMs: performance.now() - summaryAt };
}

describe("`ptc run` exits once its script is done", () => {
  for (const tool of ["slow_lookup", "stubborn_lookup"]) {
    test(`a call to ${tool} the script gave up on does not keep the CLI alive`, async () => {
      const { stdout, stderr, exitCode, afterSummaryMs } = await runTimed(
        [
          "import asyncio",
          "try:",
          `    await asyncio.wait_for(${tool}(), timeout=0.2)`,
          "except TimeoutError:",
          "    print('gave up')",
        ].join("\n"),
      );
      assert.equal(stdout, "gave up\n");
      assert.match(stderr, /── ptc · completed · 1 tool call \(1 cancelled\)/);
      assert.equal(exitCode, 0);
      assert.ok(afterSummaryMs < 1_000, `exited ${Math.round(afterSummaryMs)} ms after its summary`);
    });
  }
});
