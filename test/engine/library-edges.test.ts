import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import type { ExecutionHandle } from "../../src/engine/execution.js";
import type { ToolResultSubmission } from "../../src/engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import { codeTool, delay, testEngine } from "../helpers/engine.js";

const engine = testEngine({ pool: { size: 1 } });
after(() => engine.close());

const askHuman = codeTool("ask_human");

async function pausedOn(execution: ExecutionHandle, calls: number): Promise<string[]> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await delay(20)) {
    const pending = execution.pendingToolCalls();
    if (execution.isPaused() && pending.length === calls) return pending.map((call) => call.id);
  }
  throw new Error("the execution never paused");
}

describe("submitToolResult: one shape for resuming, checked", () => {
  test("a bare value is refused with invalid_request naming the shapes; the call stays answerable", async () => {
    const execution = engine.execute({
      code: "print(repr(await ask_human(q='ok?')))",
      tools: [askHuman],
    });
    const [id = ""] = await pausedOn(execution, 1);
    const refused: unknown[] = [
      "yes",
      null,
      42,
      ["yes"],
      {},
      { answer: "yes" },
      { value: "yes", content: "yes" },
      { error: 7 },
      { error: { code: "x" } },
      { error: { message: "no", code: 5 } },
    ];
    for (const submission of refused) {
      assert.throws(
        () => execution.submitToolResult(id, submission as ToolResultSubmission),
        (error: unknown) =>
          PtcError.is(error, ErrorCode.InvalidRequest) &&
          /expected \{ value \}, \{ content \} or \{ error: string \| \{ message: string, code\?: string \} \}/.test(
            error.message,
          ),
        JSON.stringify(submission),
      );
    }
    assert.ok(execution.isPaused(), "still paused on the same call");
    assert.deepEqual(
      execution.pendingToolCalls().map((call) => call.id),
      [id],
    );
    assert.equal(execution.submitToolResult(id, { value: "yes" }), "accepted");
    const result = await execution.result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "'yes'\n");
  });

  test("{ content } (Anthropic's name) is the same as { value }; { error } as a string or an object", async () => {
    const execution = engine.execute({
      code: [
        "import asyncio",
        "results = await asyncio.gather(*(ask_human(n=n) for n in range(4)), return_exceptions=True)",
        "for r in results:",
        "    print(repr(r) if not isinstance(r, ToolError) else f'{r.code}: {r}')",
      ].join("\n"),
      tools: [askHuman],
    });
    const ids = await pausedOn(execution, 4);
    const byN = new Map(execution.pendingToolCalls().map((call) => [call.input.n, call.id]));
    assert.equal(ids.length, 4);
    execution.submitToolResult(byN.get(0) ?? "", { content: { approved: true } });
    execution.submitToolResult(byN.get(1) ?? "", { value: null });
    execution.submitToolResult(byN.get(2) ?? "", { error: "denied" });
    execution.submitToolResult(byN.get(3) ?? "", { error: { message: "later", code: "busy" } });
    // A second answer of any shape is a harmless duplicate.
    assert.equal(execution.submitToolResult(byN.get(0) ?? "", { content: "again" }), "duplicate");
    const result = await execution.result;
    assert.equal(result.stdout, "{'approved': True}\nNone\ntool_error: denied\nbusy: later\n");
  });
});

/** Alive and not a zombie, from /proc (Linux). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("an engine nobody closes", () => {
  test("does not keep the process alive once idle, and its sandboxes die with the process", async () => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/engine-never-closed.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    // Start-up may be slow on a loaded machine; once its work is reported, it has 20 s to exit.
    let stuck = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (!output.endsWith("\n")) return;
      clearTimeout(stuck);
      stuck = setTimeout(() => child.kill("SIGKILL"), 20_000);
    });
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    clearTimeout(stuck);
    const exitedAt = performance.now() - started;
    assert.equal(signal, null, "the process had to be killed: the engine kept it alive");
    assert.equal(code, 0);
    const report = JSON.parse(output) as {
      stdout: string;
      sandboxPids: number[];
      descendants: number[];
      doneAt: number;
    };
    const tree = report.descendants;
    assert.equal(report.stdout, "42\n");
    assert.ok(report.sandboxPids.length >= 1, "the container's sandbox was alive at the end");
    // The child's clock started a little after ours: it exited within a few seconds of its last line.
    assert.ok(exitedAt - report.doneAt < 5_000, `exited ${Math.round(exitedAt - report.doneAt)} ms after its work`);
    for (const pid of report.sandboxPids) assert.ok(tree.includes(pid), `sandbox ${pid} was in the process tree`);
    // Its stdin ended and bubblewrap's --die-with-parent fired: no sandbox process outlives it.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && tree.some(running)) await delay(50);
    assert.deepEqual(tree.filter(running), [], "no orphan sandbox process remains");
  });
});
