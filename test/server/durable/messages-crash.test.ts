/**
 * `/v1/messages` across kill -9 of a one-node `ptc serve` on SQLite, driven by the official SDK: a script
 * paused on client calls (an `asyncio.gather` of them too) resumes on the restarted node with the same
 * Python state, and prints exactly what an uninterrupted run of the same conversation prints.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type Anthropic from "@anthropic-ai/sdk";
import {
  answered,
  GATHER,
  GATHER_STDOUT,
  params,
  paused,
  runCode,
  send,
  soloNodeForFile,
  stdouts,
  userTurn,
} from "../../helpers/durable-messages.js";

const { model, node, count } = await soloNodeForFile();
const ask = userTurn;

/**
 * Drives the gather conversation to its end; `between` runs after each response that paused (a crash, or
 * nothing). Returns the final message and the ids of each pause.
 */
async function gatherConversation(stream: boolean, between: () => Promise<void>) {
  model.setScript([runCode(GATHER), { text: "Done." }]);
  let history = [ask("gather")];
  const first = await send(node.client(), params(history), stream);
  const container = first.container?.id;
  assert.ok(container);
  assert.deepEqual(
    paused(first).map((call) => call.q),
    ["a", "b"],
  );
  await between();
  history = answered(history, first);
  const second = await send(node.client(), params(history, container), stream);
  assert.deepEqual(
    paused(second).map((call) => call.q),
    ["c"],
  );
  await between();
  history = answered(history, second);
  const final = await send(node.client(), params(history, container), stream);
  return { final, pauses: [paused(first), paused(second)] };
}

const tallies = () => count("tally");

describe("/v1/messages: kill -9 while a script is paused, then resume on the restarted node", () => {
  for (const stream of [false, true]) {
    test(`a gather of client calls, then one more (${stream ? "streaming" : "non-streaming"})`, async () => {
      const before = tallies();
      const uninterrupted = await gatherConversation(stream, async () => {});
      assert.deepEqual(stdouts(uninterrupted.final), [GATHER_STDOUT]);
      assert.equal(tallies(), before + 1);

      const crashed = await gatherConversation(stream, () => node.crash());
      assert.equal(crashed.final.stop_reason, "end_turn");
      assert.deepEqual(stdouts(crashed.final), stdouts(uninterrupted.final), "byte-identical stdout");
      assert.equal(crashed.final.content.at(-1)?.type, "text");
      // The handler ran once per conversation: replay answered it from the journal.
      assert.equal(tallies(), before + 2);
    });
  }

  test("a container's earlier scripts: globals of turn 1 are there in turn 2 after crashes", async () => {
    const turns = async (between: () => Promise<void>) => {
      model.setScript([
        runCode('total = 40\nseen = ["turn 1"]\nprint("set")'),
        { text: "Set." },
        runCode('seen.append("turn 2")\na = await ask({"q": "x"})\nprint(total + 2, a, seen)'),
        { text: "Used." },
      ]);
      const first = await send(node.client(), params([ask("set")]), false);
      const container = first.container?.id;
      assert.ok(container);
      assert.deepEqual(stdouts(first), ["set\n"]);
      await between(); // the container idle: rebuilt from its finished script
      let history: Anthropic.MessageParam[] = [ask("set"), { role: "assistant", content: first.content }, ask("use")];
      const second = await send(node.client(), params(history, container), true);
      assert.deepEqual(
        paused(second).map((call) => call.q),
        ["x"],
      );
      await between(); // paused in turn 2: rebuilt from turn 1, and turn 2 replayed to its pause
      history = answered(history, second);
      return send(node.client(), params(history, container), false);
    };
    const uninterrupted = await turns(async () => {});
    const crashed = await turns(() => node.crash());
    assert.deepEqual(stdouts(uninterrupted), ["42 v-x ['turn 1', 'turn 2']\n"]);
    assert.deepEqual(stdouts(crashed), stdouts(uninterrupted));
  });

  test("random values drawn before the crash are the same after the resume (one container)", async () => {
    model.setScript([
      runCode('import random\nx = random.random()\na = await ask({"q": repr(x)})\nprint(repr(x), a)'),
      { text: "Drawn." },
    ]);
    const history = [ask("draw")];
    const first = await send(node.client(), params(history), false);
    const [call] = paused(first);
    assert.ok(call);
    await node.crash();
    const final = await send(node.client(), params(answered(history, first), first.container?.id), false);
    assert.deepEqual(stdouts(final), [`${call.q} v-${call.q}\n`]);
  });
});
