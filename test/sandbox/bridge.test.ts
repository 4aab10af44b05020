import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode } from "../../src/protocol/errors.js";
import {
  BUSY_FRAME,
  type ChildFrameSink,
  decodeChildFrame,
  decodeHostFrame,
  encodeCallFrame,
  encodeCancelFrame,
  encodeDoneFrame,
  encodeIdleFrame,
  encodeOutputFrame,
  encodeReadyFrame,
  encodeResultFrame,
  encodeRunFrame,
  encodeToolError,
  encodeTruncatedFrame,
  FrameFault,
  MAX_ERROR_REPORT_CHARS,
  MAX_TOOL_NAME_CHARS,
  RESET_FRAME,
  RefusalCode,
  type RunFrame,
} from "../../src/sandbox/pyodide/bridge.js";
import { errorReport } from "../../src/sandbox/pyodide/child-error-report.js";
import { LineSplitter } from "../../src/sandbox/pyodide/line-splitter.js";

/** Every call the decoder makes, as [method, ...arguments]. */
function recorder(): { sink: ChildFrameSink; seen: unknown[][] } {
  const seen: unknown[][] = [];
  const record =
    (method: string) =>
    (...args: unknown[]) => {
      seen.push([method, ...args]);
    };
  const sink: ChildFrameSink = {
    ready: record("ready"),
    call: record("call"),
    output: record("output"),
    truncated: record("truncated"),
    idle: record("idle"),
    busy: record("busy"),
    cancel: record("cancel"),
    done: record("done"),
    fault: record("fault"),
  };
  return { sink, seen };
}

function decoded(line: string): unknown[][] {
  const { sink, seen } = recorder();
  decodeChildFrame(line, sink);
  return seen;
}

describe("bridge: child -> host frames", () => {
  test("each frame the child encodes decodes to what it said", () => {
    const input = JSON.stringify({ text: "tab\there, newline\nescaped, ünïcode" });
    assert.deepEqual(decoded(encodeReadyFrame(true, 412, "v26.0.0", "accepted", "new")), [
      ["ready", 412, true, "accepted", "new"],
    ]);
    assert.deepEqual(decoded(encodeReadyFrame(false, 80, "v26.0.0", "accepted", "reused")), [
      ["ready", 80, false, "accepted", "reused"],
    ]);
    // What the host does not know as a code cache's use reads as "unavailable", and a memory as a new one.
    assert.deepEqual(decoded('J{"t":"ready","jspi":false,"bootMs":5,"codeCache":"yes","memory":{"a":1}}'), [
      ["ready", 5, false, "unavailable", "new"],
    ]);
    assert.deepEqual(decoded(encodeCallFrame(17, 'we"ird\tname', input)), [["call", 17, 'we"ird\tname', input]]);
    assert.deepEqual(decoded(encodeOutputFrame("stderr", "line\n")), [["output", "stderr", "line\n"]]);
    assert.deepEqual(decoded(encodeTruncatedFrame("stdout", 4096)), [["truncated", "stdout", 4096]]);
    assert.deepEqual(decoded(encodeIdleFrame(3)), [["idle", 3]]);
    assert.deepEqual(decoded(BUSY_FRAME), [["busy"]]);
    assert.deepEqual(decoded(encodeCancelFrame(9)), [["cancel", 9]]);
    const report = '{"type":"ValueError","message":"bad","traceback":"","line":2}';
    assert.deepEqual(decoded(encodeDoneFrame(report, { stdout: 5, stderr: 0 }, true)), [
      ["done", { type: "ValueError", message: "bad", traceback: "", line: 2 }, { stdout: 5, stderr: 0 }, true],
    ]);
    assert.deepEqual(decoded(encodeDoneFrame("null", { stdout: 0, stderr: 0 }, false)), [
      ["done", null, { stdout: 0, stderr: 0 }, false],
    ]);
    // No frame holds a raw newline, whatever its text: a newline would split it.
    for (const frame of [encodeCallFrame(1, "a\nb", "{}"), encodeOutputFrame("stdout", "a\nb\n")]) {
      assert.equal(frame.includes("\n"), false);
    }
  });

  test("frames the child coalesces into one write decode one by one, whatever the chunk boundaries", () => {
    // One turn of a gather: its calls, then the idle report, in one write; the host may read it in pieces.
    const written = `${[1, 2, 3].map((id) => encodeCallFrame(id, "noop", `{"x":${id}}`)).join("\n")}\n${encodeIdleFrame(0)}\n`;
    const expected = [
      ["call", 1, "noop", '{"x":1}'],
      ["call", 2, "noop", '{"x":2}'],
      ["call", 3, "noop", '{"x":3}'],
      ["idle", 0],
    ];
    for (const cut of [written.length, 5, 17, written.indexOf("\t{") + 2, written.length - 2]) {
      const { sink, seen } = recorder();
      const splitter = new LineSplitter((line) => decodeChildFrame(line, sink));
      splitter.push(written.slice(0, cut));
      splitter.push(written.slice(cut));
      assert.deepEqual(seen, expected, `cut at ${cut}`);
    }
  });

  test("malformed frames are rejected with the fault that names what is wrong", () => {
    const cases: Array<[string, FrameFault]> = [
      ["", FrameFault.UnknownKind],
      ["Q1", FrameFault.UnknownKind],
      ["Bx", FrameFault.UnknownKind],
      ['C\t"t"\t{}', FrameFault.BadCallId],
      ['C0\t"t"\t{}', FrameFault.BadCallId],
      ['C-3\t"t"\t{}', FrameFault.BadCallId],
      ['C1.5\t"t"\t{}', FrameFault.BadCallId],
      ['C9007199254740993\t"t"\t{}', FrameFault.BadCallId],
      ['C1"t"{}', FrameFault.BadCallId],
      ['C1\t"t"', FrameFault.BadToolName],
      ["C1\tt\t{}", FrameFault.BadToolName],
      ["C1\t42\t{}", FrameFault.BadToolName],
      ["X", FrameFault.BadCallId],
      ["X0", FrameFault.BadCallId],
      ["Xabc", FrameFault.BadCallId],
      ["W", FrameFault.BadCount],
      ["W-1", FrameFault.BadCount],
      ["Wx", FrameFault.BadCount],
      ["J{", FrameFault.BadJson],
      ["J[1]", FrameFault.BadMessage],
      ["Jnull", FrameFault.BadMessage],
      ['J{"t":"run"}', FrameFault.BadMessage],
      ['J{"t":"output","stream":"stdin","data":"x"}', FrameFault.BadMessage],
      ['J{"t":"output","stream":"stdout","data":1}', FrameFault.BadMessage],
      ['J{"t":"truncated","stream":"fd3","dropped":1}', FrameFault.BadMessage],
    ];
    for (const [line, fault] of cases) {
      assert.deepEqual(decoded(line), [["fault", fault, line]], line);
    }
  });

  test("counts the child reports are taken as non-negative numbers, and a done frame's missing parts as none", () => {
    assert.deepEqual(decoded('J{"t":"truncated","stream":"stdout","dropped":-5}'), [["truncated", "stdout", 0]]);
    assert.deepEqual(decoded('J{"t":"done","error":null,"dropped":{"stdout":"lots","stderr":1e400}}'), [
      ["done", null, { stdout: 0, stderr: 0 }, false],
    ]);
    assert.deepEqual(decoded('J{"t":"done"}'), [["done", undefined, { stdout: 0, stderr: 0 }, false]]);
  });
});

describe("bridge: host -> child frames", () => {
  test("a run frame carries every cap, and a result frame its call id and payload", () => {
    const frame: RunFrame = {
      code: "print('hi')\n",
      tools: JSON.stringify([{ name: "t", pythonName: "t" }]),
      resultMode: "json",
      caps: {
        maxOutputBytes: 1024,
        memoryBytes: 0,
        maxToolInputBytes: 2048,
        maxToolCalls: 5,
        maxToolNameChars: MAX_TOOL_NAME_CHARS,
        maxInputDepth: 128,
        errorReportChars: MAX_ERROR_REPORT_CHARS,
      },
    };
    const runs: RunFrame[] = [];
    const results: Array<[number, string]> = [];
    let resets = 0;
    const sink = {
      run: (run: RunFrame) => runs.push(run),
      result: (id: number, payload: string) => results.push([id, payload]),
      reset: () => resets++,
    };
    const run = encodeRunFrame(frame);
    assert.equal(run.includes("\n"), false);
    decodeHostFrame(run, sink);
    assert.deepEqual(runs, [{ t: "run", ...frame }]);
    decodeHostFrame(encodeResultFrame(12, true, '{"a":"b\\tc"}'), sink);
    decodeHostFrame(encodeResultFrame(13, false, encodeToolError("ToolTimeoutError", "tool_timeout", "slow")), sink);
    assert.deepEqual(results, [
      [12, '1{"a":"b\\tc"}'],
      [13, '0{"type":"ToolTimeoutError","code":"tool_timeout","message":"slow"}'],
    ]);
    decodeHostFrame(RESET_FRAME, sink);
    assert.equal(resets, 1);
    // Anything else from the host is ignored: the host is trusted, and a frame the child does not know changes nothing.
    decodeHostFrame('J{"t":"set-limits"}', sink);
    assert.equal(runs.length, 1);
    assert.equal(resets, 1);
  });

  test("the child's refusal codes are the host's error codes", () => {
    const known = new Set<string>(Object.values(ErrorCode));
    for (const code of Object.values(RefusalCode)) assert.ok(known.has(code), code);
  });
});

describe("bridge: the guest's error report, cut to the run's caps", () => {
  test("fields longer than the caps sent in the run frame are cut; others pass; a malformed report is replaced", () => {
    const chars = { type: 10, message: 20, traceback: 30, code: 5 };
    const long = JSON.stringify({
      type: "VeryLongErrorTypeName",
      message: "m".repeat(50),
      traceback: "t".repeat(50),
      line: 3,
      code: "tool_timeout",
      extra: "dropped",
    });
    const report = JSON.parse(errorReport(long, chars)) as Record<string, unknown>;
    assert.deepEqual(report, {
      type: "VeryLongEr\n[ptc: cut at 10 characters]",
      message: `${"m".repeat(20)}\n[ptc: cut at 20 characters]`,
      traceback: `${"t".repeat(30)}\n[ptc: cut at 30 characters]`,
      line: 3,
      code: "tool_",
    });
    assert.equal(errorReport("", chars), "null");
    assert.equal(JSON.parse(errorReport("{nope", chars)).type, "SandboxError");
  });
});
