import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ErrorCode } from "../../src/protocol/errors.js";
import { MAX_ERROR_REPORT_CHARS, MAX_TOOL_NAME_CHARS, maxChildFrameChars } from "../../src/sandbox/pyodide/bridge.js";
import { SandboxProcess, type SandboxRunOutcome } from "../../src/sandbox/sandbox-process.js";
import { resolveSandboxRuntime } from "../../src/sandbox/sandbox-runtime.js";
import { MAX_TOOL_INPUT_DEPTH } from "../../src/tools/input-guard.js";

// The framing, with a stand-in child (fixtures/fake-child.mjs) that sends whatever frames the test's "code"
// holds: no Pyodide, started the way a real child is (permission model, bubblewrap where present).
const runtime = {
  ...resolveSandboxRuntime(),
  childScript: fileURLToPath(new URL("fixtures/fake-child.mjs", import.meta.url)),
};

interface Seen {
  outcome: SandboxRunOutcome;
  events: unknown[][];
  diagnostics: string;
}

async function runFrames(frames: string[], maxToolInputBytes = 1_000_000): Promise<Seen> {
  const sandbox = new SandboxProcess(runtime, 0);
  await sandbox.ready;
  const events: unknown[][] = [];
  const outcome = await sandbox.run(
    { code: frames.join("\n"), tools: [], resultMode: "json", maxOutputBytes: 1000, memoryBytes: 0, maxToolInputBytes },
    {
      onToolCall: (callId, name, inputJson) => {
        events.push(["call", callId, name, inputJson]);
        sandbox.sendToolResult(callId, true, '"ok"');
      },
      onOutput: (stream, text) => events.push([stream, text]),
      onIdle: () => events.push(["idle"]),
      onBusy: () => events.push(["busy"]),
      onToolCancel: (callId) => events.push(["cancel", callId]),
    },
  );
  sandbox.kill();
  await sandbox.closed;
  return { outcome, events, diagnostics: outcome.kind === "exited" ? outcome.diagnostics : "" };
}

describe("SandboxProcess framing (a stand-in child)", () => {
  test("frames reach the listener decoded; the run frame carries every cap the child applies", async () => {
    const { outcome, events } = await runFrames([
      'C1\t"lookup"\t{"q":1}',
      // Crossed the result on the pipe (the host has sent one): stale, dropped.
      "W0",
      "W1",
      "B",
      "X1",
      'J{"t":"done","error":null,"dropped":{"stdout":0,"stderr":2},"memoryLimitHit":false}',
    ]);
    assert.deepEqual(outcome, { kind: "done", error: null, dropped: { stdout: 0, stderr: 2 }, memoryLimitHit: false });
    const [caps, ...rest] = events;
    assert.deepEqual(JSON.parse(String(caps?.[1])), {
      maxOutputBytes: 1000,
      memoryBytes: 0,
      maxToolInputBytes: 1_000_000,
      maxToolCalls: 0,
      maxToolNameChars: MAX_TOOL_NAME_CHARS,
      maxInputDepth: MAX_TOOL_INPUT_DEPTH,
      errorReportChars: MAX_ERROR_REPORT_CHARS,
    });
    assert.deepEqual(rest.slice(0, 4), [["call", 1, "lookup", '{"q":1}'], ["idle"], ["busy"], ["cancel", 1]]);
  });

  test("calls that arrive in one write are all answered; the results of one turn go out in at most two writes", async () => {
    const calls = 200;
    const { outcome, events } = await runFrames([
      ...Array.from({ length: calls }, (_, index) => `C${index + 1}\t"lookup"\t{"q":${index}}`),
      "W0",
      `AFTER ${calls} RESULTS`,
      `W${calls}`,
      'J{"t":"done","error":null,"dropped":{"stdout":0,"stderr":0},"memoryLimitHit":false}',
    ]);
    assert.equal(outcome.kind, "done", JSON.stringify(outcome));
    const called = events.filter((event) => event[0] === "call").map((event) => event[1]);
    assert.deepEqual(
      called,
      Array.from({ length: calls }, (_, index) => index + 1),
    );
    // Only the report that counts every result sent is taken: the other crossed results on the pipe.
    assert.equal(events.filter((event) => event[0] === "idle").length, 1);
    // The first result is written at once (a sequential call waits for it), the rest of the turn's together.
    const echoed = events.filter((event) => event[0] === "stdout").map((event) => event[1]);
    assert.deepEqual(
      echoed,
      Array.from({ length: calls }, (_, index) => `R${index + 1}\t1"ok"`),
    );
    const batches = events.filter(
      (event) => event[0] === "stderr" && String(event[1]).startsWith("results in one read"),
    );
    assert.ok(batches.length >= 1 && batches.length <= 2, `results in ${batches.length} multi-result reads`);
    const inBatches = batches.reduce((sum, event) => sum + Number(String(event[1]).split(": ")[1]), 0);
    assert.ok(inBatches >= calls - 1, `${inBatches} of ${calls} results came in multi-result reads`);
  });

  test("a malformed frame ends the sandbox, and its diagnostics name the fault", async () => {
    const { outcome, diagnostics } = await runFrames(['C0\t"lookup"\t{}']);
    assert.equal(outcome.kind, "exited");
    assert.match(diagnostics, /protocol violation \(bad_call_id\): C0/);
  });

  test("a frame longer than the largest any frame kind can make ends the sandbox", async () => {
    // Longer than a pipe chunk (64 KiB) too: the splitter bounds a line still arriving, across chunks.
    const bound = maxChildFrameChars({ maxToolInputBytes: 1_000, errorReportChars: MAX_ERROR_REPORT_CHARS });
    const input = `"${"x".repeat(bound + 1)}"`;
    const { outcome, diagnostics } = await runFrames([`C1\t"lookup"\t${input}`], 1_000);
    assert.equal(outcome.kind, "exited");
    assert.match(diagnostics, /protocol violation \(frame_too_long\)/);
  });
});

describe("SandboxProcess.reset (a stand-in child)", () => {
  const DONE = 'J{"t":"done","error":null,"dropped":{"stdout":0,"stderr":0},"memoryLimitHit":false}';
  const request = (frames: string[]) => ({
    code: frames.join("\n"),
    tools: [],
    resultMode: "json" as const,
    maxOutputBytes: 1000,
    memoryBytes: 0,
  });
  const listener = { onToolCall: () => {}, onOutput: () => {} };
  const isResetFailure = (error: Error & { code?: string }) => error.code === ErrorCode.SandboxResetFailed;

  test("the child reports ready again: reset resolves, counts, and the sandbox runs the next script", async () => {
    const sandbox = new SandboxProcess(runtime, 0);
    await sandbox.ready;
    assert.equal((await sandbox.run(request([DONE]), listener)).kind, "done");
    assert.equal(sandbox.resets, 0);
    const resetting = sandbox.reset();
    assert.equal(sandbox.busy, true, "a sandbox resetting takes no run");
    await resetting;
    await sandbox.reset();
    assert.equal(sandbox.resets, 2);
    assert.equal(sandbox.busy, false);
    assert.equal((await sandbox.run(request([DONE]), listener)).kind, "done");
    sandbox.kill();
    await sandbox.closed;
  });

  test("a reset while a script runs is refused: rejected, and the process killed", async () => {
    const sandbox = new SandboxProcess(runtime, 0);
    await sandbox.ready;
    const outcome = sandbox.run(request(['C1\t"lookup"\t{}']), listener);
    await assert.rejects(sandbox.reset(), isResetFailure);
    assert.equal((await outcome).kind, "exited");
    assert.equal(sandbox.alive, false);
    await assert.rejects(sandbox.reset(), isResetFailure, "a dead sandbox cannot be reset");
    assert.equal(sandbox.resets, 0);
    await sandbox.closed;
  });

  test("a child that fails its reset is gone: rejected", async () => {
    const sandbox = new SandboxProcess(runtime, 70);
    await sandbox.ready;
    await assert.rejects(sandbox.reset(), (error: Error & { code?: string }) => {
      assert.match(error.message, /exited \(code 70/);
      return isResetFailure(error);
    });
    assert.equal(sandbox.alive, false);
    await sandbox.closed;
  });

  test("a reset the child never answers times out: rejected, and the process killed", async () => {
    const sandbox = new SandboxProcess(runtime, 1);
    await sandbox.ready;
    await assert.rejects(sandbox.reset(200), (error: Error) => /no ready frame within 200 ms/.test(error.message));
    await sandbox.exited;
    assert.equal(sandbox.alive, false);
    await sandbox.closed;
  });
});
