import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";

// Runs bin/ptc.js, which runs dist/: `npm run build` first.

/** Runs `ptc run` on `code`; resolves with when the summary appeared and when the process exited. */
async function runTimed(
  code: string,
): Promise<{ stdout: string; stderr: string; exitCode: number | null; afterSummaryMs: number }> {
  const directory = await mkdtemp(join(tmpdir(), "ptc-exit-"));
  after(() => rm(directory, { recursive: true, force: true }));
  const script = join(directory, "script.py");
  await writeFile(script, code);
  let summaryAt: number | undefined;
  const { stdout, stderr, exitCode } = await runCli(["run", "--tools", "test/fixtures/abandoned-tools.ts", script], {
    killAfterMs: 60_000,
    onStderr: (stderr) => {
      if (summaryAt === undefined && stderr.includes("── ptc")) summaryAt = performance.now();
    },
  });
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
