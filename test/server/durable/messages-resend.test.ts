/**
 * `/v1/messages` after kill -9 of a one-node `ptc serve` on SQLite, driven by the official SDK, where the
 * plain resume is not the whole story: the response was lost with the node (the request is sent again),
 * or the script cannot be rebuilt (its replay diverges: the documented `container_expired`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
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

describe("/v1/messages: kill -9, then a request that is not a plain resume", () => {
  for (const stream of [false, true]) {
    test(`the response lost: the same request sent again reports the same paused calls (${stream ? "streaming" : "non-streaming"})`, async () => {
      const before = count("tally");
      model.setScript([runCode(GATHER), { text: "Done." }]);
      let history = [ask("gather")];
      const first = await send(node.client(), params(history), stream);
      const container = first.container?.id;
      history = answered(history, first);
      const second = await send(node.client(), params(history, container), stream);
      // Its response never reached the client: the node died with it.
      await node.crash();
      const again = await send(node.client(), params(history, container), stream);
      assert.deepEqual(paused(again), paused(second), "the same paused call, with its id");
      await node.crash();
      const third = await send(node.client(), params(history, container), stream);
      assert.deepEqual(paused(third), paused(second));
      const final = await send(node.client(), params(answered(history, third), container), stream);
      assert.deepEqual(stdouts(final), [GATHER_STDOUT]);
      assert.equal(count("tally"), before + 1, "the handler before the pause never ran again");
    });
  }

  for (const stream of [false, true]) {
    test(`a replay that diverges (os.urandom in a call's arguments): container_expired, and a new container works (${stream ? "streaming" : "non-streaming"})`, async () => {
      model.setScript([
        runCode('import os\nkey = os.urandom(8).hex()\na = await ask({"q": key})\nprint(a)'),
        runCode('print("again")'),
        { text: "Ran it again." },
      ]);
      const history = [ask("draw")];
      const first = await send(node.client(), params(history), stream);
      const container = first.container?.id;
      await node.crash();
      // The rebuilt script asks with another key than the journal holds: the container is lost, and the
      // request is answered as the hosted API answers a container that is gone: a 400, or in a stream
      // (begun before the replay got there) an `error` event of that type.
      const lost = await send(node.client(), params(answered(history, first), container), stream).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(lost instanceof Anthropic.APIError, String(lost));
      if (!stream) assert.equal(lost.status, 400);
      assert.equal((lost.error as { error?: { type?: string } }).error?.type, "invalid_request_error");
      assert.match(
        lost.message,
        /container_expired: container \S+ was lost: rebuilding its Python state by replay diverged/,
      );
      // The model re-runs its code without the container: a new one.
      const fresh = await send(node.client(), params([ask("draw")]), stream);
      assert.notEqual(fresh.container?.id, container);
      assert.deepEqual(stdouts(fresh), ["again\n"]);
    });
  }
});
