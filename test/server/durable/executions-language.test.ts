/**
 * A stored execution keeps its language: after `kill -9` of a one-node `ptc serve` on SQLite, a JavaScript
 * execution paused on a client call is described as JavaScript and resumes as JavaScript (by replay), and a
 * finished one is still described with its language.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ASK,
  api,
  execute,
  kill9,
  pendingCall,
  scratchDirectory,
  startNode,
  submit,
  type WireExecution,
} from "../../helpers/durable-serve.js";
import type { ServingCli } from "../../helpers/server.js";

const dir = scratchDirectory();
const store = join(dir, "store.db");
const handlerLog = join(dir, "handlers.log");
/** One name across restarts, so the restarted node does not wait out its old self's lease. */
const NODE_ID = "solo";
let node: ServingCli;

type Described = WireExecution & { language: string };

before(async () => {
  node = await startNode({ store, handlerLog, nodeId: NODE_ID });
});
after(async () => {
  await node.stop();
});

async function crashAndRestart(): Promise<string> {
  await kill9(node);
  node = await startNode({ store, handlerLog, nodeId: NODE_ID });
  return node.url;
}

describe("executions API: the language survives a restart", () => {
  test("a paused JavaScript execution resumes as JavaScript; finished ones keep their language", async () => {
    const python = (await execute(node.url, { code: "print('py')" })) as Described;
    assert.equal(python.language, "python");
    const typescript = (await execute(node.url, {
      code: "const n: number = 6 * 7;\ntext(String(n));",
      language: "typescript",
    })) as Described;
    assert.equal(typescript.status, "completed", JSON.stringify(typescript.result));

    const code =
      'const a = await tools.ask({ q: "one" });\nconst b = await tools.ask({ q: "two" });\ntext(a + "+" + b);';
    const paused = (await execute(node.url, { code, language: "javascript", tools: [ASK] })) as Described;
    assert.equal(paused.status, "paused", JSON.stringify(paused));
    const first = await submit(node.url, paused.id, { [pendingCall(paused, "one")]: "A" });
    assert.equal(first.status, "paused");

    const url = await crashAndRestart();
    const described = (await api<Described>(url, "GET", `/v1/executions/${paused.id}?wait=30`)).json;
    assert.equal(described.language, "javascript");
    assert.equal(described.status, "paused", JSON.stringify(described));
    const done = (await submit(url, paused.id, { [pendingCall(described, "two")]: "B" })) as Described;
    assert.equal(done.status, "completed", JSON.stringify(done.result));
    assert.equal(done.result?.stdout, "A+B");
    assert.equal(done.language, "javascript");

    const again = await Promise.all(
      [python.id, typescript.id].map(async (id) => (await api<Described>(url, "GET", `/v1/executions/${id}`)).json),
    );
    assert.deepEqual(
      again.map((state) => [state.status, state.language, state.result?.stdout]),
      [
        ["completed", "python", "py\n"],
        ["completed", "typescript", "42"],
      ],
    );
  });
});
