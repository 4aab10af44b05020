/**
 * Three `ptc serve` nodes on one PostgreSQL, driven through the executions API: forwarding to the owner,
 * takeover after the owner's kill -9 or SIGSTOP (a partition), concurrent takeovers, and a database outage.
 * Leases last 1.5 s here (heartbeat every 0.5 s), so every takeover waits seconds, not the default 15.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type Answer,
  ASK,
  api,
  durableConfig,
  handlerCalls,
  health,
  kill9,
  pendingCall,
  scratchDirectory,
  startNode,
  submitRaw,
  type WireError,
  type WireExecution,
  waitFor,
} from "../../helpers/durable-serve.js";
import { cuttablePostgres, freshPostgresDatabase, postgresAvailable } from "../../helpers/postgres.js";
import { processTree } from "../../helpers/process-tree.js";
import type { ServingCli } from "../../helpers/server.js";

const LEASE_TTL_MS = 1_500;
/** The node's default: three beats per lease. */
const HEARTBEAT_MS = LEASE_TTL_MS / 3;
const skip = postgresAvailable() ? false : "PostgreSQL is not installed and PTC_TEST_POSTGRES_URL is unset";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const dir = scratchDirectory();
const handlerLog = join(dir, "handlers.log");
const config = durableConfig(dir, { leaseTtlMs: LEASE_TTL_MS, evictIdleMs: 0 });
let database: string;
const nodes: Record<"a" | "b" | "c", ServingCli> = {} as Record<"a" | "b" | "c", ServingCli>;

function startNamed(name: "a" | "b" | "c", store = database): Promise<ServingCli> {
  return startNode({ store, handlerLog, nodeId: `node-${name}`, config });
}

const tallies = (n: number) => handlerCalls(handlerLog).filter((line) => line === `tally {"n":${n}}`).length;
const leased = async (node: ServingCli, container: string) =>
  (await health(node.url)).leases.some((lease) => lease.container_id === container);

/**
 * Sends the same results until a node answers 200, as a client honouring Retry-After does (faster here).
 * Every other answer must be a 503 saying to retry, with Retry-After: never a wrong or undurable result.
 */
async function submitUntilAnswered(
  url: string,
  executionId: string,
  results: Record<string, unknown>,
  retried: Array<Answer<WireError>> = [],
): Promise<WireExecution> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await submitRaw(url, executionId, results);
    if (answer.status === 200) return answer.json;
    const error = answer.json as unknown as WireError;
    assert.equal(answer.status, 503, JSON.stringify(error));
    assert.ok(
      ["node_unreachable", "store_unavailable", "container_lease_lost"].includes(error.error.code),
      JSON.stringify(error),
    );
    assert.ok(answer.headers.get("retry-after"), `a 503 says when to retry: ${JSON.stringify(error)}`);
    retried.push(answer as unknown as Answer<WireError>);
    assert.ok(Date.now() < deadline, `still ${error.error.code} after 30 s`);
    await sleep(200);
  }
}

/**
 * `POST /v1/executions` until a node answers 200. A node whose heartbeat is late (this 2-core machine under
 * load, with a 1.5 s lease) refuses with 503 store_unavailable and Retry-After, as it must; a client retries.
 */
async function executeRetrying(url: string, body: Record<string, unknown>): Promise<WireExecution> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await api(url, "POST", "/v1/executions", { wait: 30, ...body });
    if (answer.status === 200) return answer.json;
    const error = answer.json as unknown as WireError;
    assert.equal(answer.status, 503, JSON.stringify(error));
    assert.ok(answer.headers.get("retry-after"), `a 503 says when to retry: ${JSON.stringify(error)}`);
    assert.ok(Date.now() < deadline, `still ${error.error.code} after 30 s`);
    await sleep(200);
  }
}

if (skip) test("several nodes on PostgreSQL", { skip }, () => {});
else {
  before(async () => {
    database = await freshPostgresDatabase();
    [nodes.a, nodes.b, nodes.c] = await Promise.all([startNamed("a"), startNamed("b"), startNamed("c")]);
  });
  after(async () => {
    await Promise.all(Object.values(nodes).map((node) => node.stop()));
  });

  describe("executions API: three nodes on one PostgreSQL", () => {
    test("a tool_result sent to a node that is not the owner is forwarded to it", async () => {
      const code = "r = await ask(q='f')\nprint('got', r, await tally(n=41))";
      const paused = await executeRetrying(nodes.a.url, { code, tools: [ASK] });
      const container = paused.container_id;
      assert.ok(await leased(nodes.a, container), "node a holds the container it created");
      const done = await submitUntilAnswered(nodes.b.url, paused.id, { [pendingCall(paused, "f")]: "F" });
      assert.equal(done.status, "completed");
      assert.equal(done.result?.stdout, "got F 82\n");
      assert.ok(await leased(nodes.a, container), "still node a's: b forwarded, it did not take over");
      assert.equal(await leased(nodes.b, container), false);
      assert.equal(await leased(nodes.c, container), false);
      const seen = await api(nodes.c.url, "GET", `/v1/executions/${paused.id}`);
      assert.equal(seen.json.result?.stdout, "got F 82\n");
      assert.equal(tallies(41), 1);
    });

    test.afterEach(async () => {
      // A node a test killed comes back (under its name, on a new port) for the next test.
      if (nodes.a.child.signalCode !== null || nodes.a.child.exitCode !== null) nodes.a = await startNamed("a");
    });

    test("kill -9 of the owner: another node answers 503 node_unreachable until the lease expires, then takes over", async () => {
      const code = "t = await tally(n=42)\nr = await ask(q='k')\nprint('got', r, t, await tally(n=43))";
      const paused = await executeRetrying(nodes.a.url, { code, tools: [ASK] });
      await kill9(nodes.a);
      const killedAt = Date.now();
      const retried: Array<Answer<WireError>> = [];
      const done = await submitUntilAnswered(nodes.b.url, paused.id, { [pendingCall(paused, "k")]: "K" }, retried);
      assert.equal(done.result?.stdout, "got K 84 86\n");
      const first = retried[0];
      assert.ok(first, "the first try, within the lease, could not be answered");
      assert.equal(first.json.error.code, "node_unreachable");
      // Its last heartbeat was up to a beat (TTL / 3) before the kill: the lease ran out a TTL after that.
      assert.ok(Date.now() - killedAt >= LEASE_TTL_MS - HEARTBEAT_MS, "taken over only once the lease expired");
      assert.ok(await leased(nodes.b, paused.container_id), "node b holds it now");
      assert.equal(tallies(42), 1);
      assert.equal(tallies(43), 1);
    });

    test("SIGSTOP of the owner past its lease: another node takes over; after SIGCONT the old owner gives it up", async () => {
      const code = "t = await tally(n=44)\nr1 = await ask(q='s1')\nr2 = await ask(q='s2')\nprint(t, r1, r2)";
      const paused = await executeRetrying(nodes.a.url, { code, tools: [ASK] });
      const container = paused.container_id;
      const containersBefore = (await health(nodes.a.url)).containers;
      const pidsBefore = await processTree(nodes.a.child.pid as number);
      nodes.a.child.kill("SIGSTOP");
      try {
        await sleep(LEASE_TTL_MS * 2);
        const second = await submitUntilAnswered(nodes.b.url, paused.id, { [pendingCall(paused, "s1")]: "S1" });
        assert.equal(second.status, "paused");
        assert.ok(await leased(nodes.b, container));
      } finally {
        nodes.a.child.kill("SIGCONT");
      }
      // At once, before its next heartbeat: the old owner must not answer from its stale copy. It forwards
      // to node b (200), or refuses (503); the store fences any write it tries with its old epoch.
      const resent = await submitRaw(nodes.a.url, paused.id, { [pendingCall(paused, "s1")]: "S1" });
      if (resent.status === 200) {
        assert.deepEqual(resent.json.submitted?.[0]?.status, "duplicate");
      } else {
        assert.equal(resent.status, 503, JSON.stringify(resent.json));
      }
      await waitFor("node a to give the container up", async () => !(await leased(nodes.a, container)));
      const healthAfter = await health(nodes.a.url);
      assert.equal(healthAfter.containers, containersBefore - 1, "its sandbox was released");
      const pidsAfter = await processTree(nodes.a.child.pid as number);
      assert.ok(
        pidsBefore.some((pid) => !pidsAfter.includes(pid)),
        "a sandbox process of node a is gone",
      );
      const state = (await api(nodes.b.url, "GET", `/v1/executions/${paused.id}`)).json;
      const done = await submitUntilAnswered(nodes.a.url, paused.id, { [pendingCall(state, "s2")]: "S2" });
      assert.equal(done.result?.stdout, "88 S1 S2\n");
      assert.ok(await leased(nodes.b, container), "still node b's: node a forwarded");
      assert.equal(tallies(44), 1);
    });

    test("concurrent takeovers of one container by two nodes: exactly one wins, handlers run once", async () => {
      const code = "t = await tally(n=45)\nr = await ask(q='t')\nprint(t, r, await tally(n=46))";
      const paused = await executeRetrying(nodes.a.url, { code, tools: [ASK] });
      const container = paused.container_id;
      await kill9(nodes.a);
      await sleep(LEASE_TTL_MS * 2);
      const results = { [pendingCall(paused, "t")]: "T" };
      const [fromB, fromC] = await Promise.all([
        submitUntilAnswered(nodes.b.url, paused.id, results),
        submitUntilAnswered(nodes.c.url, paused.id, results),
      ]);
      for (const done of [fromB, fromC]) assert.equal(done.result?.stdout, "90 T 92\n");
      const statuses = [fromB, fromC].map((done) => done.submitted?.[0]?.status).sort();
      assert.deepEqual(statuses, ["accepted", "duplicate"], "the result was taken once");
      const holders = [await leased(nodes.b, container), await leased(nodes.c, container)];
      assert.deepEqual(holders.filter(Boolean).length, 1, "exactly one node holds it");
      assert.equal(tallies(45), 1);
      assert.equal(tallies(46), 1);
    });

    test("a database outage: 503 store_unavailable, never an undurable answer; work continues once it is back", async () => {
      const relay = await cuttablePostgres(await freshPostgresDatabase());
      const node = await startNode({ store: relay.url, handlerLog, nodeId: "node-cut", config });
      try {
        const code = "t = await tally(n=47)\nr = await ask(q='o')\nprint(t, r, await tally(n=48))";
        const paused = await executeRetrying(node.url, { code, tools: [ASK] });
        const call = pendingCall(paused, "o");
        await relay.cut();
        const refused = await submitRaw(node.url, paused.id, { [call]: "O" });
        assert.equal(refused.status, 503, JSON.stringify(refused.json));
        assert.equal((refused.json as unknown as WireError).error.code, "store_unavailable");
        const created = await api<WireError>(node.url, "POST", "/v1/executions", { code: "print(1)" });
        assert.equal(created.status, 503, JSON.stringify(created.json));
        assert.equal(created.json.error.code, "store_unavailable");
        assert.equal(tallies(48), 0, "the script did not go on past an answer the store did not take");
        await sleep(LEASE_TTL_MS * 2);
        await relay.restore();
        const done = await submitUntilAnswered(node.url, paused.id, { [call]: "O" });
        assert.equal(done.result?.stdout, "94 O 96\n");
        assert.equal(tallies(47), 1);
        assert.equal(tallies(48), 1);
        const next = await executeRetrying(node.url, { code: "print(2)" });
        assert.equal(next.result?.stdout, "2\n");
      } catch (error) {
        console.error(node.stderr());
        throw error;
      } finally {
        await node.stop();
        await relay.cut();
      }
    });
  });
}
