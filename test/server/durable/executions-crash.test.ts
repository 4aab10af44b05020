/**
 * The executions API across `kill -9` of a one-node `ptc serve` on SQLite: at each crash point the client's
 * next request resumes the script by replay; no handler runs twice (counted in a file that outlives the
 * server), and the final stdout is byte-identical to an uninterrupted run of the same script.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ASK,
  api,
  execute,
  handlerCalls,
  kill9,
  pendingCall,
  scratchDirectory,
  startNode,
  submit,
  type WireExecution,
  waitFor,
} from "../../helpers/durable-serve.js";
import type { ServingCli } from "../../helpers/server.js";

const dir = scratchDirectory();
const store = join(dir, "store.db");
const handlerLog = join(dir, "handlers.log");
let node: ServingCli;
/**
 * One name across restarts, as a server on a fixed port has (the default, HOST:PORT, is HOST:PID with
 * `--port 0`): a restarted node under a new name would find its old self's lease still fresh and answer
 * 503 node_unreachable until it expired.
 */
const NODE_ID = "solo";

/** kill -9 the node and start it again on the same store (a new port: the client follows its URL). */
async function crashAndRestart(): Promise<string> {
  await kill9(node);
  node = await startNode({ store, handlerLog, nodeId: NODE_ID });
  return node.url;
}

/** The client's answer to `ask(q=Q)`. */
const answer = (q: unknown) => `answer-${String(q)}`;

/** The same script, run to its end without a crash: every pause answered at once. */
async function uninterrupted(code: string, container?: string): Promise<string> {
  let state = await execute(node.url, { code, tools: [ASK], ...(container ? { container } : {}) });
  while (state.status === "paused") {
    const results = Object.fromEntries(state.pending_tool_calls.map((call) => [call.id, answer(call.input.q)]));
    state = await submit(node.url, state.id, results);
  }
  assert.equal(state.status, "completed", JSON.stringify(state.result));
  return state.result?.stdout ?? "";
}

function completedStdout(state: WireExecution): string {
  assert.equal(state.status, "completed", JSON.stringify(state));
  return state.result?.stdout ?? "";
}

before(async () => {
  node = await startNode({ store, handlerLog, nodeId: NODE_ID });
});
after(async () => {
  await node.stop();
});

describe("executions API: kill -9 of a one-node server on SQLite", () => {
  test("paused on a client call: the next tool_result resumes it; a finished execution's GET survives a restart", async () => {
    const code = "t = await tally(n=20)\nprint('before', t)\nr = await ask(q='one')\nprint('after', r, t)";
    const expected = await uninterrupted(code);
    const logBefore = handlerCalls(handlerLog).length;
    const paused = await execute(node.url, { code, tools: [ASK] });
    assert.equal(paused.status, "paused");
    const url = await crashAndRestart();
    const done = await submit(url, paused.id, { [pendingCall(paused, "one")]: answer("one") });
    assert.deepEqual(done.submitted, [{ call_id: pendingCall(paused, "one"), status: "accepted" }]);
    assert.equal(completedStdout(done), expected);
    assert.equal(handlerCalls(handlerLog).length - logBefore, 1, "tally ran once: replay answered it from the journal");
    const resent = await submit(url, paused.id, { [pendingCall(paused, "one")]: answer("one") });
    assert.deepEqual(resent.submitted, [{ call_id: pendingCall(paused, "one"), status: "duplicate" }]);

    const again = await crashAndRestart();
    const stored = await api(again, "GET", `/v1/executions/${paused.id}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.json.status, "completed");
    assert.equal(stored.json.result?.stdout, expected);
  });

  test("during an asyncio.gather of client calls with one answered: resent answers are duplicates, the rest resume", async () => {
    const code = [
      "import asyncio",
      "a, b, c = await asyncio.gather(ask(q='a'), ask(q='b'), ask(q='c'))",
      "print(a, b, c)",
      "print('tally', await tally(n=3))",
    ].join("\n");
    const expected = await uninterrupted(code);
    const logBefore = handlerCalls(handlerLog).length;
    const paused = await execute(node.url, { code, tools: [ASK] });
    assert.equal(paused.pending_tool_calls.length, 3);
    const [a, b, c] = ["a", "b", "c"].map((q) => pendingCall(paused, q));
    assert.ok(a && b && c);
    const partial = await submit(node.url, paused.id, { [a]: answer("a") });
    assert.equal(partial.status, "paused");
    assert.deepEqual(partial.pending_tool_calls.map((call) => call.id).sort(), [b, c].sort());
    const url = await crashAndRestart();
    const done = await submit(url, paused.id, { [a]: answer("a"), [b]: answer("b"), [c]: answer("c") });
    assert.deepEqual(done.submitted, [
      { call_id: a, status: "duplicate" },
      { call_id: b, status: "accepted" },
      { call_id: c, status: "accepted" },
    ]);
    assert.equal(completedStdout(done), expected);
    assert.equal(handlerCalls(handlerLog).length - logBefore, 1);
  });

  test("a handler call in flight at the crash: the script catches tool_call_interrupted, the handler ran once", async () => {
    const code = [
      "try:",
      "    print('slow', await slow(n=1))",
      "except ToolError as e:",
      "    print('caught', e.code)",
      "print('tally', await tally(n=5))",
    ].join("\n");
    const running = await execute(node.url, { code, wait: 0 });
    assert.equal(running.status, "running");
    await waitFor("the slow handler to start", () => handlerCalls(handlerLog).some((line) => line.startsWith("slow")));
    const url = await crashAndRestart();
    const resumed = await api(url, "GET", `/v1/executions/${running.id}?wait=30`);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.json));
    assert.equal(completedStdout(resumed.json), "caught tool_call_interrupted\ntally 10\n");
    const calls = handlerCalls(handlerLog);
    assert.equal(calls.filter((line) => line.startsWith("slow")).length, 1, "the interrupted handler is not run again");
    assert.equal(calls.filter((line) => line === 'tally {"n":5}').length, 1);
  });

  test("after a result was submitted and answered: resent, it is a duplicate; the next pause is still pending", async () => {
    const code = "x = await ask(q='x')\nprint('x', x)\ny = await ask(q='y')\nprint('y', y)";
    const expected = await uninterrupted(code);
    const paused = await execute(node.url, { code, tools: [ASK] });
    const x = pendingCall(paused, "x");
    const second = await submit(node.url, paused.id, { [x]: answer("x") });
    const y = pendingCall(second, "y");
    const url = await crashAndRestart();
    const resent = await submit(url, paused.id, { [x]: answer("x") });
    assert.deepEqual(resent.submitted, [{ call_id: x, status: "duplicate" }]);
    assert.equal(resent.status, "paused");
    assert.deepEqual(
      resent.pending_tool_calls.map((call) => call.id),
      [y],
    );
    assert.equal(completedStdout(await submit(url, paused.id, { [y]: answer("y") })), expected);
  });

  test("a container's globals from earlier finished executions come back, without running their handlers again", async () => {
    const steps = [
      "total = await tally(n=1)\nnames = ['first']",
      "total += await tally(n=2)\nnames.append('second')",
      "extra = await ask(q='z')\nprint(total, names, extra)",
    ];
    // Uninterrupted, in a container of its own.
    const first = await execute(node.url, { code: steps[0] as string });
    await execute(node.url, { code: steps[1] as string, container: first.container_id });
    const expected = await uninterrupted(steps[2] as string, first.container_id);
    assert.equal(expected, "6 ['first', 'second'] answer-z\n");

    const logBefore = handlerCalls(handlerLog).length;
    const one = await execute(node.url, { code: steps[0] as string });
    const container = one.container_id;
    await execute(node.url, { code: steps[1] as string, container });
    const paused = await execute(node.url, { code: steps[2] as string, container, tools: [ASK] });
    const url = await crashAndRestart();
    const done = await submit(url, paused.id, { [pendingCall(paused, "z")]: answer("z") });
    assert.equal(completedStdout(done), expected);
    // And the container serves a new execution after another crash, with the same state.
    const url2 = await crashAndRestart();
    const next = await execute(url2, { code: "print(total, names, extra)", container });
    assert.equal(completedStdout(next), expected);
    assert.equal(handlerCalls(handlerLog).length - logBefore, 2, "each tally ran once over two rebuilds");
  });

  test("an execution cancelled earlier in the container: the state after it starts clean, and replay starts there", async () => {
    const container = (await execute(node.url, { code: "before_cancel = await tally(n=7)" })).container_id;
    const cancelled = await execute(node.url, {
      code: "during_cancel = 1\nawait ask(q='never')",
      container,
      tools: [ASK],
    });
    assert.equal(cancelled.status, "paused");
    const deleted = await api(node.url, "DELETE", `/v1/executions/${cancelled.id}`);
    assert.equal(deleted.status, 200);
    const code =
      "print(sorted(k for k in ('before_cancel', 'during_cancel') if k in globals()))\nprint(await ask(q='w'))";
    const expected = await uninterrupted(code, container);
    assert.equal(expected, "[]\nanswer-w\n", "cancelling killed the sandbox: nothing of before it is left");
    const paused = await execute(node.url, { code, container, tools: [ASK] });
    const url = await crashAndRestart();
    const done = await submit(url, paused.id, { [pendingCall(paused, "w")]: answer("w") });
    assert.equal(completedStdout(done), expected);
    assert.equal(handlerCalls(handlerLog).filter((line) => line === 'tally {"n":7}').length, 1);
  });

  test("random values are identical after resume: each replay draws the container's seeded sequence again", async () => {
    const code = [
      "import random",
      "x = random.random()",
      "a = await ask(q=repr(x))",
      "y = random.random()",
      "b = await ask(q=repr(y))",
      "print(repr(x), repr(y), repr(random.random()))",
    ].join("\n");
    const paused = await execute(node.url, { code, tools: [ASK] });
    const x = paused.pending_tool_calls[0]?.input.q as string;
    const url = await crashAndRestart();
    const second = await submit(url, paused.id, { [pendingCall(paused, x)]: "a" });
    assert.equal(second.status, "paused", JSON.stringify(second));
    const y = second.pending_tool_calls[0]?.input.q as string;
    const url2 = await crashAndRestart();
    const done = await submit(url2, paused.id, { [pendingCall(second, y)]: "b" });
    const printed = completedStdout(done).trim().split(" ");
    assert.deepEqual(printed.slice(0, 2), [x, y], "x and y as the script drew them before each crash");
    // A third crash after the end: the stored result answers; nothing is drawn again.
    const url3 = await crashAndRestart();
    const stored = await api(url3, "GET", `/v1/executions/${paused.id}`);
    assert.equal(stored.json.result?.stdout, done.result?.stdout);
  });
});
