/**
 * `/v1/messages` killed with SIGKILL while a request is in progress (a server handler running, a streamed
 * response half sent, the upstream still thinking) and after the client moved on from a paused script:
 * counting handlers never run twice, the client's retry carries the conversation on, and a script the
 * client abandoned stays dead after the restart.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import {
  answered,
  type Params,
  params,
  paused,
  runCode,
  send,
  soloNodeForFile,
  stdouts,
  userTurn,
} from "../../helpers/durable-messages.js";
import { waitFor } from "../../helpers/durable-serve.js";

const { model, node, count } = await soloNodeForFile();
const ask = userTurn;

/**
 * Sends `request` and kills the node once the `slow` handler has been called `slowCalls` times (the request
 * is then in flight on the dead node); restarts it. Returns what the client got.
 */
async function killDuring(request: Params, stream: boolean, slowCalls: number): Promise<unknown> {
  const outcome = send(node.client(), request, stream).then(
    (message) => message,
    (error: unknown) => error,
  );
  await waitFor("the slow handler to be running", () => count("slow") === slowCalls);
  await node.crash();
  return outcome;
}

/** In a script: a server handler before a pause, and one in flight when the server dies. */
const IN_FLIGHT = [
  't = await tally({"n": 1})',
  'a = await ask({"q": "first"})',
  "try:",
  '    s = await slow({"n": 2})',
  "except ToolError as e:",
  "    s = e.code",
  'b = await ask({"q": "second"})',
  "print(t, a, s, b)",
].join("\n");

describe("/v1/messages: kill -9 during a request", () => {
  for (const stream of [false, true]) {
    test(`a handler in flight at the crash: the resent resume gets tool_call_interrupted, no handler runs twice (${stream ? "streaming, killed mid-stream" : "non-streaming"})`, async () => {
      const tallies = count("tally");
      const slows = count("slow");
      model.setScript([runCode(IN_FLIGHT), { text: "Done." }]);
      let history = [ask("go")];
      const first = await send(node.client(), params(history), stream);
      const container = first.container?.id;
      assert.deepEqual(
        paused(first).map((call) => call.q),
        ["first"],
      );
      history = answered(history, first);
      // The answer resumes the script, which calls `slow`: the node dies while it runs (the stream has begun).
      const lost = await killDuring(params(history, container), stream, slows + 1);
      assert.ok(lost instanceof Anthropic.APIConnectionError || lost instanceof Anthropic.AnthropicError, String(lost));
      // The client sends the request again: the script, rebuilt by replay, sees the call interrupted.
      const again = await send(node.client(), params(history, container), stream);
      assert.deepEqual(
        paused(again).map((call) => call.q),
        ["second"],
      );
      const final = await send(node.client(), params(answered(history, again), container), stream);
      assert.deepEqual(stdouts(final), ["2 v-first tool_call_interrupted v-second\n"]);
      assert.equal(final.stop_reason, "end_turn");
      assert.equal(count("tally"), tallies + 1, "tally (before the pause) ran once");
      assert.equal(count("slow"), slows + 1, "slow (in flight) ran once");
    });
  }

  test("a new turn killed mid-stream while the upstream thinks: the same request sent again goes on in the container", async () => {
    model.setScript([
      runCode("x = 1\nprint('set')"),
      { text: "Set." },
      { ...runCode("print('never runs')"), delayMs: 60_000 },
      runCode("print(x + 1)"),
      { text: "Two." },
    ]);
    const first = await send(node.client(), params([ask("set")]), false);
    const container = first.container?.id;
    const history = [ask("set"), { role: "assistant" as const, content: first.content }, ask("add one")];
    const requests = model.requests.length;
    const outcome = send(node.client(), params(history, container), true).then(
      (message) => message,
      (error: unknown) => error,
    );
    await waitFor("the upstream to be asked", () => model.requests.length === requests + 1);
    await node.crash();
    assert.ok((await outcome) instanceof Anthropic.AnthropicError);
    const again = await send(node.client(), params(history, container), true);
    assert.deepEqual(stdouts(again), ["2\n"]);
    assert.equal(again.stop_reason, "end_turn");
  });

  test("a new turn killed while its script runs a handler: the retry abandons the interrupted script (its Python state goes, as without a crash), the handler ran once", async () => {
    const slows = count("slow");
    model.setScript([
      runCode("x = 1\nprint('set')"),
      { text: "Set." },
      runCode('y = 5\nawait slow({"n": 3})\nprint("after slow")'),
      runCode('print(globals().get("x"), globals().get("y"))'),
      { text: "Fresh." },
    ]);
    const first = await send(node.client(), params([ask("set")]), false);
    const container = first.container?.id;
    const history = [ask("set"), { role: "assistant" as const, content: first.content }, ask("add one")];
    const lost = await killDuring(params(history, container), true, slows + 1);
    assert.ok(lost instanceof Anthropic.AnthropicError, String(lost));
    // Sent again: the script brought back by replay (its `slow` call now tool_call_interrupted) is not the
    // client's to answer, no tool_result names it, so this new turn abandons it. An abandoned script takes
    // the container's Python state with it, crash or not (its sandbox is discarded): the model's next code
    // runs, in a fresh interpreter.
    const again = await send(node.client(), params(history, container), true);
    assert.equal(again.container?.id, container);
    assert.deepEqual(stdouts(again), ["None None\n"]);
    assert.equal(again.stop_reason, "end_turn");
    assert.equal(count("slow"), slows + 1, "slow ran once");
  });
});

describe("/v1/messages: a paused script the client abandoned", () => {
  test("stays dead after a crash: the container carries on with the new turn's state", async () => {
    const conversation = async (between: () => Promise<void>) => {
      model.setScript([
        runCode('t = await tally({"n": 5})\nfate = "started"\na = await ask({"q": "never"})\nfate = "answered"'),
        runCode('n = 7\na = await ask({"q": "new"})\nprint(n, a, globals().get("t"), globals().get("fate"))'),
        { text: "New." },
        runCode('print(n + 1, globals().get("fate"))'),
        { text: "Eight." },
      ]);
      const first = await send(node.client(), params([ask("start")]), false);
      const container = first.container?.id;
      const [never] = paused(first);
      assert.equal(never?.q, "never");
      // The client moves on: a new conversation in the same container, the paused call never answered.
      let history = [ask("something else")];
      const second = await send(node.client(), params(history, container), false);
      assert.deepEqual(
        paused(second).map((call) => call.q),
        ["new"],
      );
      await between();
      history = answered(history, second);
      const third = await send(node.client(), params(history, container), false);
      await between();
      history = [...history, { role: "assistant", content: third.content }, ask("and one more")];
      const fourth = await send(node.client(), params(history, container), false);
      // The abandoned call cannot be answered now either: its script is gone.
      const late = await send(
        node.client(),
        params(
          answered([ask("start")], first, () => "too late"),
          container,
        ),
        false,
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(late instanceof Anthropic.BadRequestError, String(late));
      return [...stdouts(third), ...stdouts(fourth)];
    };
    const tallies = count("tally");
    const uninterrupted = await conversation(async () => {});
    assert.equal(count("tally"), tallies + 1);
    const crashed = await conversation(() => node.crash());
    // Abandoning a paused script discards its sandbox: the new turn starts from a fresh interpreter.
    assert.deepEqual(uninterrupted, ["7 v-new None None\n", "8 None\n"]);
    assert.deepEqual(crashed, uninterrupted, "byte-identical stdout: the abandoned script did not come back");
    assert.equal(count("tally"), tallies + 2, "the abandoned script's handler never ran again");
  });
});
