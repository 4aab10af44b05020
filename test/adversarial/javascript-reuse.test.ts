import assert from "node:assert/strict";
import { after, test } from "node:test";
import { SandboxPool } from "../../src/sandbox/sandbox-pool.js";
import type { SandboxProcess, SandboxRunOutcome, SandboxRunRequest } from "../../src/sandbox/sandbox-process.js";
import { delay } from "../helpers/engine.js";
import { assertNoHostLeak } from "./harness.js";

/**
 * A sandbox in which only JavaScript ran goes back to the pool without a reset (src/sandbox/sandbox-reuse.ts),
 * and serves the next one-off execution, possibly another key's, in either language. That is sound only if
 * a JavaScript guest can leave nothing behind in the child: execution 1 tries every place it can name (its
 * globals and intrinsics, timers and calls left pending), and the next executions in the same process,
 * Python (in the realm it shares with the child) then JavaScript, find none of it. JavaScript after
 * JavaScript through the engine: javascript-escape.test.ts.
 */

const pool = new SandboxPool({ size: 1 });
const keepAlive = setInterval(() => {}, 1_000);
after(async () => {
  clearInterval(keepAlive);
  await pool.close();
});

async function run(
  sandbox: SandboxProcess,
  code: string,
  language: SandboxRunRequest["language"],
): Promise<{ outcome: SandboxRunOutcome; stdout: string }> {
  let stdout = "";
  const outcome = await sandbox.run(
    {
      code,
      language,
      tools: [{ name: "echo", pythonName: "echo" }],
      resultMode: "json",
      maxOutputBytes: 100_000,
      memoryBytes: 256 * 1_048_576,
    },
    {
      // Never answered: the calls stay pending when the script ends.
      onToolCall: () => {},
      onOutput: (stream, text) => {
        if (stream === "stdout") stdout += text;
      },
    },
  );
  return { outcome, stdout };
}

const POLLUTE = `
globalThis.secret = "from execution 1";
Object.prototype.polluted = "yes";
Array.prototype.push = function () { text("hijacked push"); };
JSON.stringify = () => "hijacked stringify";
Math.random = () => 0.5;
Promise.prototype.then = function () { text("hijacked then"); };
setTimeout(() => text("a timer of execution 1"), 50);
tools.echo({ left: "pending" });
try { null.x; } catch (error) { text(String(error.stack)); }
text(new Error("where am I").stack);
`;

test("a JavaScript execution leaves nothing for the next one in a sandbox reused without a reset", async () => {
  await pool.warmUp();
  const sandbox = await pool.acquire();
  const first = await run(sandbox, POLLUTE, "javascript");
  assert.equal(first.outcome.kind, "done", JSON.stringify(first.outcome));
  assertNoHostLeak(first.stdout);
  const resets = sandbox.resets;
  pool.recycle(sandbox);

  const second = await pool.acquire();
  assert.equal(second, sandbox, "the same process");
  assert.equal(second.resets, resets, "not reset");
  const python = await run(
    second,
    [
      "import js",
      "o = js.Object.new()",
      "print(repr(getattr(o, 'polluted', 'clean')), js.JSON.stringify(js.Object.fromEntries([['a', 1]])))",
      "print(hasattr(js, 'secret'))",
    ].join("\n"),
    "python",
  );
  assert.equal(python.outcome.kind, "done", JSON.stringify(python.outcome));
  assert.equal(python.stdout, `'clean' {"a":1}\nFalse\n`);
  pool.recycle(second);

  // Python ran: this time the sandbox is reset before it serves again.
  const third = await pool.acquire();
  const javascript = await run(
    third,
    [
      "const seen = [typeof secret, ({}).polluted, JSON.stringify({a: [1]}), Math.random() !== 0.5];",
      "const a = []; a.push(1);",
      "await new Promise((resolve) => setTimeout(resolve, 120));",
      "text(seen.join(), a.length);",
    ].join("\n"),
    "javascript",
  );
  assert.equal(javascript.outcome.kind, "done", JSON.stringify(javascript.outcome));
  assert.equal(javascript.stdout, 'undefined,,{"a":[1]},true 1');
  await delay(100);
  pool.recycle(third);
});
