import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Engine } from "../../../src/engine/engine.js";
import { DurableNode } from "../../../src/server/durable/durable-node.js";
import { createServerApp, type ServerApp } from "../../../src/server/http/create-server-app.js";
import { ResourceOwners } from "../../../src/server/resource-owners.js";
import { openStore } from "../../../src/server/store/open-store.js";
import type { Store } from "../../../src/server/store/store.js";
import { delay, testEngine } from "../../helpers/engine.js";
import {
  call,
  clientTool,
  execute,
  KEY_A,
  KEY_B,
  type WireError,
  type WireState,
} from "../../helpers/server-executions.js";

/** One node in this process: its own engine and app, on a store another node may share. */
interface InProcessNode {
  engine: Engine;
  node: DurableNode;
  server: ServerApp;
  store: Store;
}

const directory = mkdtempSync(join(tmpdir(), "ptc-durable-node-"));
const nodes: InProcessNode[] = [];
after(async () => {
  for (const { server, engine, node, store } of nodes) {
    await server.shutdown(0);
    await engine.close();
    await node.close();
    await store.close();
  }
});

async function startNode(
  path: string,
  nodeId: string,
  options: {
    evictIdleMs?: number;
    leaseTtlMs?: number;
    shortageEvictIdleMs?: number;
    poolSize?: number;
    maxConcurrentStarts?: number;
  } = {},
): Promise<InProcessNode> {
  const { poolSize = 1, maxConcurrentStarts, ...nodeOptions } = options;
  const store = await openStore(path, options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {});
  const engine = testEngine({ pool: { size: poolSize, ...(maxConcurrentStarts ? { maxConcurrentStarts } : {}) } });
  const node = new DurableNode({ store, engine, serverTools: [], nodeId, ...nodeOptions });
  const server = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A, KEY_B], durable: node });
  await node.start(`http://${nodeId}.invalid`);
  const started = { engine, node, server, store };
  nodes.push(started);
  return started;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe("DurableNode in one process (SQLite store)", () => {
  test("an idle container leaves memory and comes back by replay on its next use, its globals and random draws intact", async () => {
    const { server, engine, node } = await startNode(join(directory, "evict.db"), "evicting", { evictIdleMs: 300 });
    const first = await execute(server, { code: "import random\nx = random.random()\nprint(x)", wait: 30 });
    assert.equal(first.status, "completed", JSON.stringify(first.result));
    const container = first.container_id;
    const printed = first.result?.stdout;
    await waitFor("the eviction", () => !engine.hasContainer(container));
    assert.deepEqual(node.leases(), []);
    const again = await execute(server, { code: "print(x)\nprint(random.random() != x)", container, wait: 30 });
    assert.equal(again.status, "completed", JSON.stringify(again.result));
    assert.equal(again.result?.stdout, `${printed}True\n`);
    assert.ok(engine.hasContainer(container));
    assert.equal(node.leases()[0]?.containerId, container);
  });

  test("an execution waiting for a sandbox takes an idle container's, with no new start; the container comes back by replay", async () => {
    const { server, engine } = await startNode(join(directory, "shortage.db"), "short", {
      evictIdleMs: 0,
      shortageEvictIdleMs: 300,
      poolSize: 0,
    });
    const first = await execute(server, { code: "x = 41\nprint(x)", wait: 30 });
    assert.equal(first.status, "completed", JSON.stringify(first.result));
    const container = first.container_id;
    assert.equal(engine.stats().pool.started, 1);
    await delay(400);
    // No warm sandbox: the idle container's is recycled for this execution.
    const second = await execute(server, { code: "print('second')", wait: 30 });
    assert.equal(second.result?.stdout, "second\n", JSON.stringify(second.result));
    assert.equal(engine.hasContainer(container), false, "the idle container left memory");
    // Its next use waits for the second one's container to be idle 300 ms, takes that sandbox, and replays.
    const again = await execute(server, { code: "print(x + 1)", container, wait: 30 });
    assert.equal(again.result?.stdout, "42\n", JSON.stringify(again.result));
    assert.equal(engine.hasContainer(second.container_id), false);
    assert.equal(engine.stats().pool.started, 1, "one sandbox served all three");
  });

  test("executions already waiting get the sandbox of a container that turns idle later, with no new acquire to look again", async () => {
    const { server, engine } = await startNode(join(directory, "shortage-idle.db"), "idle", {
      evictIdleMs: 0,
      shortageEvictIdleMs: 100,
      poolSize: 0,
      maxConcurrentStarts: 1,
    });
    const ask = clientTool("ask");
    const paused = await execute(server, { code: "print(await ask(q='?'))", tools: [ask], wait: 30 });
    assert.equal(paused.status, "paused", JSON.stringify(paused));
    // Three wait for a sandbox while the paused one's container is busy: nothing is idle to take yet, and one
    // sandbox starts at a time.
    const waiting = await Promise.all(
      ["a", "b", "c"].map((name) => execute(server, { code: `print('${name}')`, wait: 0 })),
    );
    assert.ok(engine.stats().pool.waiting >= 2, JSON.stringify(engine.stats().pool));
    const answered = await call(server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: paused.pending_tool_calls.map((pending) => ({ call_id: pending.id, value: "done" })),
      wait: 30,
    });
    assert.equal((answered.json as WireState).result?.stdout, "done\n");
    // Its container turned idle while they waited: it gives its sandbox up 100 ms later, unasked.
    await waitFor("the idle container's release", () => !engine.hasContainer(paused.container_id), 5_000);
    for (const each of waiting) {
      const done = await call(server, "GET", `/v1/executions/${each.id}?wait=30`);
      assert.equal((done.json as WireState).status, "completed", JSON.stringify(done.json));
    }
    assert.ok(engine.stats().pool.recycled >= 1, JSON.stringify(engine.stats().pool));
  });

  test("another key's idle container is never taken for a waiting execution: that one gets a start", async () => {
    const { server, engine } = await startNode(join(directory, "shortage-keys.db"), "keys", {
      evictIdleMs: 0,
      shortageEvictIdleMs: 100,
      poolSize: 0,
    });
    const theirs = await execute(server, { code: "y = 'b'\nprint(y)", wait: 30 }, KEY_B);
    assert.equal(theirs.status, "completed", JSON.stringify(theirs.result));
    await delay(300);
    const mine = await execute(server, { code: "print('a')", wait: 30 });
    assert.equal(mine.result?.stdout, "a\n", JSON.stringify(mine.result));
    assert.ok(engine.hasContainer(theirs.container_id), "key B's container kept its sandbox");
    assert.equal(engine.stats().pool.started, 2);
  });

  test("a paused execution in a sandbox another container used first resumes on another node by replay", async () => {
    const path = join(directory, "recycled.db");
    const options = { leaseTtlMs: 2_000, evictIdleMs: 0, shortageEvictIdleMs: 100, poolSize: 0 };
    const a = await startNode(path, "recycled-a", options);
    const ask = clientTool("ask");
    // Container 1's calls advance its sandbox's call numbering...
    let first = await execute(a.server, { code: "print(await ask(q='1'), await ask(q='2'))", tools: [ask], wait: 30 });
    while (first.status === "paused") {
      const answered = await call(a.server, "POST", `/v1/executions/${first.id}/tool_results`, {
        results: first.pending_tool_calls.map((pending) => ({ call_id: pending.id, value: "v" })),
        wait: 30,
      });
      first = answered.json as WireState;
    }
    assert.equal(first.result?.stdout, "v v\n", JSON.stringify(first));
    await delay(300);
    // ...and container 2, waiting for a sandbox, gets that one (container 1 evicted, its sandbox reset).
    const paused = await execute(a.server, { code: "print('got', await ask(q='x'))", tools: [ask], wait: 30 });
    assert.equal(paused.status, "paused");
    assert.equal(a.engine.stats().pool.started, 1, "one sandbox served both containers");
    // Node a goes silent; node b takes container 2 and rebuilds it in a new process by replay, whose call
    // numbering starts at 1: the journal must match it.
    await a.node.close();
    await delay(2_100);
    const b = await startNode(path, "recycled-b", options);
    const done = await call(b.server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: paused.pending_tool_calls[0]?.id, value: "x!" }],
      wait: 30,
    });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.equal((done.json as WireState).result?.stdout, "got x!\n", JSON.stringify(done.json));
  });

  test("a node whose container another node claimed gives it up at its next heartbeat, and may no longer write for it", async () => {
    const path = join(directory, "takeover.db");
    const a = await startNode(path, "a", { leaseTtlMs: 2_000, evictIdleMs: 0 });
    const paused = await execute(a.server, {
      code: "print(await ask(q='1'))",
      tools: [clientTool("ask")],
      wait: 30,
    });
    assert.equal(paused.status, "paused");
    const container = paused.container_id;
    // Node a goes silent (its heartbeats stop): past the TTL, node b may claim its container.
    await a.node.close();
    await delay(2_100);
    const b = await startNode(path, "b", { leaseTtlMs: 2_000, evictIdleMs: 0 });
    const resumed = await call(b.server, "GET", `/v1/executions/${paused.id}?wait=30`);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.json));
    const state = resumed.json as WireState;
    assert.equal(state.status, "paused");
    const callId = state.pending_tool_calls[0]?.id;
    assert.equal(callId, paused.pending_tool_calls[0]?.id, "the pending call kept its id");
    // a's lease is gone: the answer it would give is refused by the store, so it cannot answer.
    const onA = await call(a.server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, value: "from a" }],
      wait: 5,
    });
    // 503 with the code, not a 'failed' result: the store never kept one, and still has the execution paused.
    assert.equal(onA.status, 503, JSON.stringify(onA.json));
    assert.equal((onA.json as WireError).error.code, "container_lease_lost", JSON.stringify(onA.json));
    const done = await call(b.server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, value: "from b" }],
      wait: 30,
    });
    assert.equal((done.json as WireState).result?.stdout, "from b\n");
    assert.deepEqual(b.node.leases(), [{ containerId: container, epoch: 2 }]);
    assert.equal(a.engine.hasContainer(container), false, "a kept the container's sandbox");
  });
});
