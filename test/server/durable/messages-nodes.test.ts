/**
 * `/v1/messages` on two `ptc serve` nodes sharing one PostgreSQL, driven by the official SDK: a resume sent
 * to the node that does not hold the container is forwarded to the one that does (SSE too); kill -9 the
 * owner, and the other node takes the container over once its lease expired and resumes the script by
 * replay, while the SDK's own retries of the 503s in between carry the request.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  answered,
  GATHER,
  GATHER_STDOUT,
  MessagesNode,
  messagesConfig,
  nodeOptions,
  params,
  paused,
  runCode,
  send,
  stdouts,
  userTurn,
} from "../../helpers/durable-messages.js";
import { handlerCalls, health, scratchDirectory } from "../../helpers/durable-serve.js";
import { freshPostgresDatabase, postgresAvailable } from "../../helpers/postgres.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../../helpers/scripted-model-server.js";

/**
 * Short, so a takeover happens within a test: a dead owner's containers are claimable 3 s after its last
 * beat. At 1.5 s a node on a loaded 2-core machine (load average 30) missed its own TTL between beats and
 * answered its first request 529 "this node has not reached the store within its lease TTL" (failing closed).
 */
const LEASE_TTL_MS = 3_000;

/**
 * The SDK's default. Under load a node may miss its own lease TTL between heartbeats and fail closed with a
 * 529 (seen at load average 30 on 2 cores); the SDK's retry is what carries a client past it.
 */
const RETRIES = 2;

const ask = userTurn;

/** `send`, whose failure says what the nodes logged of their own errors (a bare 500 carries no detail). */
function sendTo(
  node: MessagesNode,
  retries: number,
  request: Parameters<typeof send>[1],
  stream: boolean,
  nodes: MessagesNode[],
) {
  return send(node.client(retries), request, stream).catch((error: unknown) => {
    const logged = nodes.flatMap((each) => each.unhandledErrors());
    throw new Error(`${String(error)}; the nodes logged: ${logged.join(" | ") || "no unhandled error"}`, {
      cause: error,
    });
  });
}

describe("/v1/messages on two nodes sharing one PostgreSQL", { skip: !postgresAvailable() && "no PostgreSQL" }, () => {
  let a: MessagesNode;
  let b: MessagesNode;
  let handlerLog: string;
  let model: ScriptedModelServer;

  before(async () => {
    model = await startScriptedModelServer();
    const dir = scratchDirectory();
    const config = messagesConfig(dir, model, { leaseTtlMs: LEASE_TTL_MS });
    const store = await freshPostgresDatabase();
    const optionsA = nodeOptions(dir, config, { store, nodeId: "node-a" });
    handlerLog = optionsA.handlerLog;
    [a, b] = await Promise.all([
      MessagesNode.start(optionsA),
      MessagesNode.start(nodeOptions(dir, config, { store, nodeId: "node-b" })),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await model?.close();
  });

  const tallies = () => handlerCalls(handlerLog).filter((line) => line.startsWith("tally ")).length;

  for (const stream of [false, true]) {
    test(`a resume sent to the other node is forwarded; kill -9 the owner and the other takes over (${stream ? "streaming" : "non-streaming"})`, async () => {
      model.setScript([runCode(GATHER), { text: "Done." }]);
      const before = tallies();
      let history = [ask("gather")];
      const first = await sendTo(a, RETRIES, params(history), stream, [a, b]);
      const container = first.container?.id;
      assert.ok(container);
      assert.deepEqual(
        paused(first).map((call) => call.q),
        ["a", "b"],
      );

      // To node B, which does not hold it: forwarded to A, which answers.
      history = answered(history, first);
      const second = await sendTo(b, RETRIES, params(history, container), stream, [a, b]);
      assert.deepEqual(
        paused(second).map((call) => call.q),
        ["c"],
      );
      const leased = async (node: MessagesNode) =>
        (await health(node.url)).leases.some((lease) => lease.container_id === container);
      assert.equal(await leased(a), true, "A still holds the container");
      assert.equal(await leased(b), false, "B only forwarded");

      // The owner dies. B first finds A's lease fresh and A unreachable (503 with Retry-After); the SDK
      // retries, and once the lease expired B claims the container and resumes the script by replay.
      await a.kill();
      const logFrom = b.cli.stderr().length;
      const startedAt = Date.now();
      const final = await sendTo(b, 5, params(answered(history, second), container), stream, [a, b]);
      const tookMs = Date.now() - startedAt;
      assert.deepEqual(stdouts(final), [GATHER_STDOUT]);
      assert.equal(final.stop_reason, "end_turn");
      assert.equal(await leased(b), true, "B holds it now");
      assert.ok(tookMs < 20_000, `took over in ${tookMs} ms`);
      // What the SDK went through, as B logged it: retryable errors, then the container rebuilt on B and the 200.
      const log = b.cli
        .stderr()
        .slice(logFrom)
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { msg: string; path?: string; status?: number; container_id?: string });
      const statuses = log
        .filter((line) => line.msg === "request" && line.path === "/v1/messages")
        .map((l) => l.status);
      assert.equal(statuses.at(-1), 200, JSON.stringify(statuses));
      // 503: A unreachable while its lease is fresh; 529: B itself past its own TTL under load (fails closed).
      assert.ok(
        statuses.slice(0, -1).every((status) => status === 503 || status === 529),
        `only retryable statuses before the 200: ${JSON.stringify(statuses)}`,
      );
      assert.ok(log.some((line) => line.msg === "container-restored" && line.container_id === container));
      assert.equal(tallies(), before + 1, "tally ran once: B replayed it from the journal");

      // A comes back as the same node: it holds nothing, and a request to it is forwarded to B.
      await a.crash();
      assert.equal(await leased(a), false);
      model.setScript([runCode("print(c, t)"), { text: "More." }]);
      const more = await send(a.client(RETRIES), params([ask("more")], container), stream);
      assert.deepEqual(stdouts(more), ["v-c 42\n"]);
      assert.equal(await leased(b), true);
    });
  }
});
