import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { REPORT_FILE, renderApiReport } from "../../scripts/api-report.js";

/** The lines only one side has, marked `-` (in the checked-in report) and `+` (in src/ now). */
function lineDiff(checkedIn: string, current: string): string {
  const before = new Set(checkedIn.split("\n"));
  const after = new Set(current.split("\n"));
  const removed = [...before].filter((line) => !after.has(line)).map((line) => `- ${line}`);
  const added = [...after].filter((line) => !before.has(line)).map((line) => `+ ${line}`);
  const lines = [...removed, ...added];
  return lines.length > 0 ? lines.join("\n") : "(the same lines, in another order or repeated)";
}

describe("API report", () => {
  test(`${REPORT_FILE} lists what every entry point exports now`, async () => {
    const checkedIn = await readFile(new URL(`../../${REPORT_FILE}`, import.meta.url), "utf8");
    const started = process.cpuUsage();
    const current = renderApiReport();
    const used = process.cpuUsage(started);
    const cpuMs = (used.user + used.system) / 1_000;
    assert.ok(
      checkedIn === current,
      `The public API changed; if that is intended, run \`npm run api-report\` and commit ${REPORT_FILE}.\n${lineDiff(checkedIn, current)}`,
    );
    // It only binds src/ (no dependency's declarations): ~0.7 s of CPU, where a full type check takes
    // ~10 s. CPU time, not wall time, so that a loaded machine does not fail it.
    assert.ok(cpuMs < 5_000, `rendering the report took ${Math.round(cpuMs)} ms of CPU`);
  });

  test("the root stays what an application builds with: internals and the sample are by subpath or private", () => {
    const report = renderApiReport();
    const root = report.slice(report.indexOf("## ptc\n"), report.indexOf("\n## ", report.indexOf("## ptc\n") + 1));
    for (const name of ["createEngine", "defineTool", "runAgent", "PtcError", "McpToolSource", "loadConfig"]) {
      assert.match(root, new RegExp(`\`${name}\``), `${name} is exported from ptc`);
    }
    for (const name of ["createSampleTools", "SandboxPool", "parseMcpFlag", "ToolRegistry", "toPythonName"]) {
      assert.doesNotMatch(root, new RegExp(`\`${name}\``), `${name} is exported from ptc`);
    }
    assert.match(report, /## ptc\/sample\n[\s\S]*`createSampleTools`: function/);
  });
});
