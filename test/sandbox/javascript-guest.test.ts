import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { SandboxPool } from "../../src/sandbox/sandbox-pool.js";
import type { SandboxProcess, SandboxRunOutcome, SandboxRunRequest } from "../../src/sandbox/sandbox-process.js";
import { until } from "../helpers/engine.js";

// The JavaScript guest at the sandbox's level: a real child, its frames as the host sees them, and the pool
// handing a sandbox that ran only JavaScript straight back, without a reset.

const pool = new SandboxPool({ size: 1 });
const keepAlive = setInterval(() => {}, 1_000);
after(async () => {
  clearInterval(keepAlive);
  await pool.close();
});

interface Seen {
  outcome: SandboxRunOutcome;
  events: unknown[][];
  stdout: string;
}

/** Runs `code` as JavaScript; each tool call is answered with `answer(name, input)` (ok) after a turn. */
async function run(
  sandbox: SandboxProcess,
  code: string,
  options: Partial<SandboxRunRequest> = {},
  answer: (name: string, input: unknown) => unknown = (_name, input) => input,
  answerAfterMs = 0,
): Promise<Seen> {
  const events: unknown[][] = [];
  let stdout = "";
  const outcome = await sandbox.run(
    {
      code,
      language: "javascript",
      tools: [{ name: "echo", pythonName: "echo" }],
      resultMode: "json",
      maxOutputBytes: 100_000,
      memoryBytes: 256 * 1_048_576,
      ...options,
    },
    {
      onToolCall: (callId, name, inputJson) => {
        events.push(["call", callId, name, inputJson]);
        const reply = () => sandbox.sendToolResult(callId, true, JSON.stringify(answer(name, JSON.parse(inputJson))));
        if (answerAfterMs > 0) setTimeout(reply, answerAfterMs);
        else setImmediate(reply);
      },
      onOutput: (stream, text) => {
        events.push([stream, text]);
        if (stream === "stdout") stdout += text;
      },
      onIdle: () => events.push(["idle"]),
      onBusy: () => events.push(["busy"]),
    },
  );
  return { outcome, events, stdout };
}

describe("JavaScript guest in the sandbox child", () => {
  test("a call is a call frame, the script reports idle while it waits, the result resumes it", async () => {
    const sandbox = await pool.acquire();
    const { outcome, events, stdout } = await run(sandbox, `const r = await tools.echo({a: [1, "x"]});\ntext(r.a[1]);`);
    assert.deepEqual(outcome, { kind: "done", error: null, dropped: { stdout: 0, stderr: 0 }, memoryLimitHit: false });
    assert.deepEqual(events.slice(0, 2), [["call", 1, "echo", '{"a":[1,"x"]}'], ["idle"]]);
    assert.equal(stdout, "x");
    pool.recycle(sandbox);
  });

  test("a timer wakes an idle script: the host hears it busy again", async () => {
    const sandbox = await pool.acquire();
    const { events, stdout } = await run(
      sandbox,
      `const slow = tools.echo({v: 1});\nawait new Promise((resolve) => setTimeout(resolve, 50));\ntext("timer");\ntext((await slow).v);`,
      {},
      (_name, input) => input,
      1_500,
    );
    assert.equal(stdout, "timer\n1");
    const kinds = events.map(([kind]) => kind);
    assert.deepEqual(kinds.slice(0, 4), ["call", "idle", "busy", "stdout"]);
    assert.equal(kinds[4], "idle", "idle again: the script waits for the call");
    pool.recycle(sandbox);
  });

  test("the guest's error report: type, message, line, and a cut traceback", async () => {
    const sandbox = await pool.acquire();
    const { outcome } = await run(sandbox, `\n\nnull.x;`);
    assert.equal(outcome.kind, "done");
    const error = outcome.kind === "done" ? outcome.error : null;
    assert.equal(error?.type, "TypeError");
    assert.equal(error?.line, 3);
    assert.match(error?.traceback ?? "", /script\.js:3/);
    assert.doesNotMatch(error?.traceback ?? "", /ptc-prelude/);
    pool.recycle(sandbox);
  });

  test("a memory bomb is refused at the wasm cap and reported with memoryLimitHit", async () => {
    const sandbox = await pool.acquire();
    const { outcome } = await run(sandbox, `const s = [];\nwhile (true) s.push(new Array(1e5).fill(s.length));`, {
      memoryBytes: 48 * 1_048_576,
    });
    assert.equal(outcome.kind, "done", JSON.stringify(outcome));
    assert.equal(outcome.kind === "done" && outcome.memoryLimitHit, true);
    assert.equal(outcome.kind === "done" ? outcome.error?.type : "", "MemoryError");
    sandbox.kill();
  });

  test("a sandbox that ran only JavaScript goes back to the pool without a reset; after Python it is reset", async () => {
    await pool.warmUp();
    const first = await pool.acquire();
    assert.equal(first.pythonRan, false);
    await run(first, `text(1)`);
    const { resets, reuses } = first;
    pool.recycle(first);
    const again = await pool.acquire();
    assert.equal(again, first, "the same process, handed straight back");
    assert.equal(again.resets, resets, "no reset");
    assert.equal(again.reuses, reuses + 1);
    const python = await again.run(
      { code: "print(2)", tools: [], resultMode: "json", maxOutputBytes: 1000, memoryBytes: 256 * 1_048_576 },
      { onToolCall: () => {}, onOutput: () => {} },
    );
    assert.equal(python.kind, "done");
    assert.equal(again.pythonRan, true);
    pool.recycle(again);
    await until(() => pool.stats().resetting === 0 && pool.stats().warm === 1, "the reset");
    assert.equal(again.resets, resets + 1, "reset after Python ran");
    assert.equal(again.pythonRan, false);
  });
});
