import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ExecutionHandle } from "../../src/engine/execution.js";
import { argsSha256, type JournaledCall, journaledCalls, type RestoreReport } from "../../src/engine/replay.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { ExecutionResult } from "../../src/protocol/execution.js";
import type { JsonValue } from "../../src/protocol/json-schema.js";
import { MAX_REPLAY_FRAME_CHARS } from "../../src/sandbox/pyodide/bridge.js";
import { codeTool, testEngine } from "../helpers/engine.js";

let lookups = 0;
const lookup = codeTool("lookup", (input) => {
  lookups++;
  const q = (input as { q: unknown }).q;
  return { q, n: typeof q === "number" ? q * 10 : 0 };
});
// No handler: the test answers it, in the order it chooses.
const ask = codeTool("ask");
const strict = codeTool("strict", () => "never", { type: "object", required: ["q"] });
const tools = [lookup, ask, strict];
const engine = testEngine({ pool: { size: 2 }, tools });
after(() => engine.close());

const FIRST = `
import random
try:
    await strict()
except ToolError as error:
    refused = error.code
r1 = [random.random() for _ in range(3)]
counter = 0
def bump(x):
    global counter
    counter += x
    return counter
v = await lookup(q=1)
print("e1", bump(v["n"]), r1)
`;
const SECOND = `
w = await lookup(q=2)
print("e2", bump(w["n"]), random.random())
`;
const PAUSED = `
import asyncio
print("e3 starts", counter)
order = []
async def one(i):
    r = await ask(i=i)
    order.append(i)
    return r
res = await asyncio.gather(one(1), one(2), one(3))
print("e3", res, order, bump(1), random.random(), refused)
`;

/** Waits until the script is paused on `count` pending calls and returns them by their `i`. */
async function pendingBy(handle: ExecutionHandle, count: number): Promise<Map<number, string>> {
  for (let tries = 0; tries < 400; tries++) {
    const pending = handle.pendingToolCalls();
    if (handle.isPaused() && pending.length === count) {
      return new Map(pending.map((call) => [(call.input as { i: number }).i, call.id]));
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never paused on ${count} calls`);
}

/** Answers `i` and waits for the script to take it in (paused again on the rest, or done). */
async function answer(handle: ExecutionHandle, ids: Map<number, string>, i: number, left: number): Promise<void> {
  handle.submitToolResult(ids.get(i) ?? "", { value: `answer ${i}` });
  if (left > 0) await pendingBy(handle, left);
}

function divergedWith(containerId: string) {
  return (error: unknown) => {
    assert.ok(error instanceof PtcError, String(error));
    assert.equal(error.code, ErrorCode.ReplayDiverged);
    assert.equal(engine.hasContainer(containerId), false);
    assert.equal(engine.containers.record(containerId)?.endReason, "lost");
    return true;
  };
}

describe("replay: rebuilding a container from its journal", () => {
  test("two executions and a gather paused mid-way rebuild in a fresh sandbox and continue live", async () => {
    const seed = 1234;
    engine.containers.reopen("original", { seed });
    const first = await engine.execute({ code: FIRST, container: "original" });
    const firstResult = await first.result;
    const second = engine.execute({ code: SECOND, container: "original" });
    const secondResult = await second.result;
    const paused = engine.execute({ code: PAUSED, container: "original" });
    const ids = await pendingBy(paused, 3);
    await answer(paused, ids, 3, 2);
    await answer(paused, ids, 1, 1);
    await answer(paused, ids, 2, 0);
    const uninterrupted: ExecutionResult = await paused.result;
    assert.equal(uninterrupted.error, null);
    assert.match(uninterrupted.stdout, /\[3, 1, 2\].* invalid_tool_input\n$/);
    assert.equal(lookups, 2);

    // The crash came after calls 3 and 1 were answered and journaled, while 2 was pending.
    const pausedCalls = journaledCalls(paused.journal()).map((call) =>
      call.completedOrder === 3 ? { tool: call.tool, argsSha256: call.argsSha256, callId: call.callId ?? "" } : call,
    );
    const report = await engine.restoreContainer("rebuilt", {
      seed,
      executions: [
        { code: FIRST, calls: journaledCalls(first.journal()) },
        { code: SECOND, calls: journaledCalls(second.journal()) },
      ],
    });
    assert.equal(report.executions, 2);
    assert.equal(lookups, 2, "no handler ran again");
    const resumed = engine.execute({ code: PAUSED, container: "rebuilt", replay: { calls: pausedCalls } });
    const live = await pendingBy(resumed, 1);
    // The call pending at the pause is made again under its journaled id; the others never left the sandbox.
    assert.deepEqual([...live.entries()], [[2, ids.get(2)]]);
    resumed.submitToolResult(ids.get(2) ?? "", { value: "answer 2" });
    const result = await resumed.result;
    assert.equal(result.error, null);
    assert.equal(result.stdout, uninterrupted.stdout);
    assert.equal(lookups, 2);
    assert.ok(firstResult.stdout.startsWith("e1 10 [") && secondResult.stdout.startsWith("e2 30 "));
    // random, seeded per container, draws the same sequence in the rebuilt sandbox.
    const again = await engine.execute({ code: "print(random.random())", container: "rebuilt" }).result;
    const there = await engine.execute({ code: "print(random.random())", container: "original" }).result;
    assert.equal(again.stdout, there.stdout);
  });

  test("a divergence ends the container as lost, with nothing dispatched", async (t) => {
    const before = lookups;
    const journal = (q: JsonValue, tool = "lookup"): JournaledCall[] => [
      { tool, argsSha256: argsSha256({ q }), outcome: { ok: true, value: { q, n: 0 } }, completedOrder: 1 },
    ];
    const rebuild = (id: string, code: string, calls: JournaledCall[]) =>
      // An owner keeps the ended container's tombstone, which says why it ended.
      engine.restoreContainer(id, { seed: 1, owner: "tester", executions: [{ code, calls }] });
    await t.test("other arguments", () =>
      assert.rejects(rebuild("args", "await lookup(q=2)", journal(1)), divergedWith("args")),
    );
    await t.test("another tool", () =>
      assert.rejects(rebuild("tool", "await lookup(q=1)", journal(1, "ask")), divergedWith("tool")),
    );
    await t.test("the script ends before the journal", () =>
      assert.rejects(rebuild("early", "x = 1", journal(1)), divergedWith("early")),
    );
    await t.test("more calls than a finished execution made", () =>
      assert.rejects(rebuild("more", "await lookup(q=1)\nawait lookup(q=2)", journal(1)), divergedWith("more")),
    );
    // Nondeterminism the seed does not cover. The journals are of an original run as it was: one before the
    // clock passed `now` took the first branch; os.urandom drew other bytes then.
    const now = Date.now() / 1000;
    await t.test("a branch on time.time()", () =>
      assert.rejects(
        rebuild("time", `import time\nawait lookup(q=1 if time.time() < ${now} else 2)`, journal(1)),
        divergedWith("time"),
      ),
    );
    await t.test("os.urandom", () =>
      assert.rejects(
        rebuild("urandom", "import os\nawait lookup(q=os.urandom(8).hex())", journal("5f1c0a9e3b7d2468")),
        divergedWith("urandom"),
      ),
    );
    assert.equal(lookups, before, "no handler ran");
  });

  test("a journal over the cap is refused before a sandbox is touched", async () => {
    const big = "x".repeat(MAX_REPLAY_FRAME_CHARS);
    const calls: JournaledCall[] = [
      { tool: "lookup", argsSha256: argsSha256({}), outcome: { ok: true, value: big }, completedOrder: 1 },
    ];
    await assert.rejects(engine.restoreContainer("huge", { seed: 1, executions: [{ code: "pass", calls }] }), {
      code: ErrorCode.ReplayTooLarge,
    });
    assert.equal(engine.hasContainer("huge"), false);
  });

  test("replay speed: 1,000 journaled calls", async () => {
    const calls: JournaledCall[] = Array.from({ length: 1_000 }, (_, i) => ({
      tool: "lookup",
      argsSha256: argsSha256({ q: i }),
      outcome: { ok: true, value: { q: i, n: i * 10 } },
      completedOrder: i + 1,
    }));
    const code = "total = 0\nfor i in range(1000):\n    total += (await lookup(q=i))['n']";
    const before = lookups;
    // The same rebuild without calls: what the sandbox costs alone (taken warm from the pool).
    const empty = await engine.restoreContainer("speed-0", { seed: 7, executions: [{ code: "total = 0", calls: [] }] });
    const report = await engine.restoreContainer("speed", { seed: 7, executions: [{ code, calls }] });
    const check = await engine.execute({ code: "print(total)", container: "speed" }).result;
    assert.equal(check.stdout, `${10 * ((999 * 1000) / 2)}\n`);
    assert.equal(lookups, before);
    const ms = (r: RestoreReport) => `${r.ms.toFixed(0)} ms (${r.runMs.toFixed(0)} ms running)`;
    log(`rebuild with 1,000 journaled calls: ${ms(report)}; with none: ${ms(empty)}`);
  });
});

function log(line: string): void {
  process.stdout.write(`# ${line}\n`);
}
