import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import type { JsonValue } from "../../../src/protocol/json-schema.js";
import { inputFingerprint } from "../../../src/sandbox/pyodide/canonical-json.js";
import type { ContainerLease, Store, StoredContainer, StoreOptions } from "../../../src/server/store/store.js";

/**
 * One location of a backend (a database, a file, a memory store): each `open` is another handle on it, as
 * another node (PostgreSQL), another process (SQLite) or the same process (memory) would have.
 */
export type OpenStore = (options?: StoreOptions) => Promise<Store>;

export interface StoreBackend {
  /** A fresh, empty location. */
  fresh(): Promise<OpenStore>;
  /** Data written through one handle is there after it closed, through a new one. */
  durable: boolean;
}

const IDLE = 300_000;
const A = "node-a";
const B = "node-b";

export function rejectsWith(code: ErrorCode) {
  return (error: unknown) => {
    assert.ok(PtcError.is(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

let counter = 0;
function id(prefix: string): string {
  return `${prefix}_${process.pid}_${++counter}`;
}

async function newContainer(store: Store, node = A, idleTimeoutMs = IDLE): Promise<StoredContainer> {
  return store.createContainer({
    id: id("container"),
    owner: "key-1",
    origin: "executions",
    seed: 42,
    ownerNode: node,
    idleTimeoutMs,
  });
}

function leaseOf(container: StoredContainer): ContainerLease {
  return { containerId: container.id, epoch: container.epoch };
}

/** The cases every backend must pass: the server relies on nothing the memory store does not also do. */
export function storeConformance(name: string, backend: StoreBackend): void {
  describe(`${name} store conformance`, () => {
    async function open(options?: StoreOptions): Promise<{ store: Store; open: OpenStore }> {
      const location = await backend.fresh();
      return { store: await location(options), open: location };
    }

    it("creates, reads and lists a container", async () => {
      const { store } = await open();
      const created = await newContainer(store);
      assert.equal(created.status, "live");
      assert.equal(created.epoch, 1);
      assert.equal(created.ownerNode, A);
      assert.equal(created.owner, "key-1");
      assert.equal(created.origin, "executions");
      assert.equal(created.seed, 42);
      assert.equal(created.lastUsedAt, created.createdAt);
      assert.equal(created.expiresAt, created.createdAt + IDLE);
      assert.ok(Math.abs(created.createdAt - Date.now()) < 60_000, "times are milliseconds since the epoch");
      assert.deepEqual(await store.getContainer(created.id), created);
      assert.deepEqual(
        (await store.liveContainers()).map((c) => c.id),
        [created.id],
      );
      assert.deepEqual(await store.liveContainers(B), []);
      assert.equal(await store.getContainer("container_unknown"), undefined);
      await assert.rejects(
        store.createContainer({ id: created.id, owner: undefined, seed: 1, ownerNode: B, idleTimeoutMs: IDLE }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await store.close();
    });

    it("touch moves the expiry; end leaves a tombstone; fenced writes to an ended container are container_expired", async () => {
      const { store } = await open();
      const c = await newContainer(store);
      await sleep(5);
      const touched = await store.touchContainer(leaseOf(c), 1_000);
      assert.ok(touched.lastUsedAt > c.lastUsedAt);
      assert.equal(touched.expiresAt, touched.lastUsedAt + 1_000);
      assert.equal(await store.endContainer(c.id, "deleted", leaseOf(c)), true);
      assert.equal(await store.endContainer(c.id, "deleted"), false);
      const ended = await store.getContainer(c.id);
      assert.equal(ended?.status, "ended");
      assert.equal(ended?.endReason, "deleted");
      assert.ok(ended?.endedAt !== undefined && ended.endedAt >= touched.lastUsedAt);
      await assert.rejects(store.touchContainer(leaseOf(c), 1_000), rejectsWith(ErrorCode.ContainerExpired));
      await assert.rejects(
        store.createExecution(leaseOf(c), { id: id("exec"), code: "1", language: "python", apiKeyOwner: undefined }),
        rejectsWith(ErrorCode.ContainerExpired),
      );
      assert.deepEqual(await store.liveContainers(), []);
      await store.close();
    });

    it("reads the clock once per write: created, last used and expiry agree to the millisecond", async () => {
      // A clock read at each use (PostgreSQL's clock_timestamp()) put last_used_at 1 ms after created_at in
      // one CI run. Each write takes well under a millisecond, so 200 of each straddle some millisecond.
      const { store } = await open();
      for (let i = 0; i < 200; i++) {
        const c = await newContainer(store);
        assert.equal(c.lastUsedAt, c.createdAt);
        assert.equal(c.expiresAt, c.createdAt + IDLE);
        const touched = await store.touchContainer(leaseOf(c), IDLE);
        assert.equal(touched.expiresAt, touched.lastUsedAt + IDLE);
      }
      await store.close();
    });

    it("numbers executions by ordinal and returns the history in that order, each with its journal", async () => {
      const { store } = await open();
      const c = await newContainer(store);
      const other = await newContainer(store);
      const lease = leaseOf(c);
      const ids = [id("exec"), id("exec"), id("exec")];
      for (const [i, execId] of ids.entries()) {
        const e = await store.createExecution(lease, {
          id: execId,
          code: `x = ${i}`,
          language: "python",
          apiKeyOwner: "key-1",
        });
        assert.equal(e.ordinal, i + 1);
        assert.equal(e.status, "running");
        assert.equal(e.containerId, c.id);
        await store.createExecution(leaseOf(other), {
          id: id("exec"),
          code: "y",
          language: "python",
          apiKeyOwner: undefined,
        });
      }
      await store.appendCall(lease, ids[1] as string, {
        guestCallId: 1,
        callId: "toolu_1",
        tool: "t",
        input: { a: 1 },
      });
      const history = await store.containerHistory(c.id);
      assert.deepEqual(
        history.map((h) => [h.execution.id, h.execution.ordinal, h.execution.code, h.calls.length]),
        [
          [ids[0], 1, "x = 0", 0],
          [ids[1], 2, "x = 1", 1],
          [ids[2], 3, "x = 2", 0],
        ],
      );
      const read = await store.getExecution(ids[0] as string);
      assert.equal(read?.apiKeyOwner, "key-1");
      assert.equal(read?.result, undefined);
      assert.equal(read?.finishedAt, undefined);
      await assert.rejects(
        store.createExecution(lease, {
          id: ids[0] as string,
          code: "again",
          language: "python",
          apiKeyOwner: undefined,
        }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await store.close();
    });

    it("journals calls in guest order with the argument hash, and outcomes in completion order", async () => {
      const { store } = await open();
      const c = await newContainer(store);
      const lease = leaseOf(c);
      const e = await store.createExecution(lease, {
        id: id("exec"),
        code: "gather",
        language: "python",
        apiKeyOwner: undefined,
      });
      const inputs: JsonValue[] = [{ city: "Paris", n: [1, 2] }, { z: null, a: "é" }, {}];
      for (const [i, input] of inputs.entries()) {
        const call = await store.appendCall(lease, e.id, {
          guestCallId: i + 1,
          callId: `toolu_${i}`,
          tool: `tool_${i}`,
          input,
        });
        assert.equal(call.n, i + 1);
        assert.equal(call.outcome, undefined);
        assert.equal(call.completedOrder, undefined);
      }
      // Completed in another order than called, as under asyncio.gather.
      await store.recordCallResult(lease, e.id, 3, { outcome: "ok", value: { rows: [1, 2, 3] } });
      await store.recordCallResult(lease, e.id, 1, { outcome: "error", value: { code: "tool_error", message: "no" } });
      await store.recordCallResult(lease, e.id, 2, { outcome: "cancelled", value: null });
      const journal = await store.journal(e.id);
      assert.deepEqual(
        journal.map((j) => [j.n, j.guestCallId, j.callId, j.tool, j.outcome, j.completedOrder]),
        [
          [1, 1, "toolu_0", "tool_0", "error", 2],
          [2, 2, "toolu_1", "tool_1", "cancelled", 3],
          [3, 3, "toolu_2", "tool_2", "ok", 1],
        ],
      );
      assert.deepEqual(journal[0]?.input, inputs[0]);
      assert.deepEqual(journal[1]?.input, inputs[1]);
      assert.deepEqual(journal[2]?.value, { rows: [1, 2, 3] });
      assert.equal(journal[1]?.value, null);
      // The hash is over canonical JSON (sorted keys), so the guest's key order does not matter.
      const canonical = JSON.stringify({ a: "é", z: null });
      assert.equal(journal[1]?.argsSha256, createHash("sha256").update(canonical).digest("hex"));
      // The same fingerprint replay checks in the sandbox child (one definition: canonical-json.ts).
      assert.equal(journal[1]?.argsSha256, inputFingerprint(JSON.stringify(inputs[1])));
      assert.ok((journal[0]?.completedAt ?? 0) >= (journal[0]?.calledAt ?? Infinity));
      await store.close();
    });

    it("answers a duplicate call or result with the first record, and refuses a conflicting one", async () => {
      const { store } = await open();
      const c = await newContainer(store);
      const lease = leaseOf(c);
      const e = await store.createExecution(lease, {
        id: id("exec"),
        code: "c",
        language: "python",
        apiKeyOwner: undefined,
      });
      const call = { guestCallId: 7, callId: "toolu_7", tool: "lookup", input: { b: 2, a: 1 } };
      const first = await store.appendCall(lease, e.id, call);
      assert.deepEqual(await store.appendCall(lease, e.id, { ...call, input: { a: 1, b: 2 } }), first);
      await assert.rejects(
        store.appendCall(lease, e.id, { ...call, input: { a: 2 } }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await assert.rejects(
        store.appendCall(lease, e.id, { ...call, guestCallId: 8 }),
        rejectsWith(ErrorCode.StoreConflict),
        "another guest call with the same wire id",
      );
      const recorded = await store.recordCallResult(lease, e.id, 7, {
        outcome: "ok",
        value: { v: [1, { x: 2, y: 3 }] },
      });
      const again = await store.recordCallResult(lease, e.id, 7, { outcome: "ok", value: { v: [1, { y: 3, x: 2 }] } });
      assert.deepEqual(again, recorded);
      await assert.rejects(
        store.recordCallResult(lease, e.id, 7, { outcome: "ok", value: { v: 2 } }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await assert.rejects(
        store.recordCallResult(lease, e.id, 7, { outcome: "error", value: { v: [1, { x: 2, y: 3 }] } }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await assert.rejects(
        store.recordCallResult(lease, e.id, 99, { outcome: "ok", value: 1 }),
        rejectsWith(ErrorCode.NotFound),
      );
      assert.deepEqual(await store.journal(e.id), [recorded]);
      await store.close();
    });

    it("moves an execution between running and paused, finishes it once, and refuses a different finish", async () => {
      const { store } = await open();
      const c = await newContainer(store);
      const lease = leaseOf(c);
      const e = await store.createExecution(lease, {
        id: id("exec"),
        code: "p",
        language: "python",
        apiKeyOwner: undefined,
      });
      assert.equal((await store.setExecutionStatus(lease, e.id, "paused")).status, "paused");
      assert.equal((await store.setExecutionStatus(lease, e.id, "running")).status, "running");
      const result = { stdout: "hi\n", returnCode: 0, toolCalls: [{ id: "toolu_1", ok: true }] };
      const done = await store.finishExecution(lease, e.id, { status: "done", result });
      assert.equal(done.status, "done");
      assert.deepEqual(done.result, result);
      assert.ok(done.finishedAt !== undefined && done.finishedAt >= done.startedAt);
      assert.deepEqual(await store.finishExecution(lease, e.id, { status: "done", result }), done);
      await assert.rejects(
        store.finishExecution(lease, e.id, { status: "failed", result }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await assert.rejects(
        store.finishExecution(lease, e.id, { status: "done", result: { stdout: "other" } }),
        rejectsWith(ErrorCode.StoreConflict),
      );
      await assert.rejects(store.setExecutionStatus(lease, e.id, "paused"), rejectsWith(ErrorCode.StoreConflict));
      assert.deepEqual(await store.getExecution(e.id), done);
      await assert.rejects(store.setExecutionStatus(lease, "exec_unknown", "paused"), rejectsWith(ErrorCode.NotFound));
      await store.close();
    });

    it("fences every write of a container's work by its epoch: after a claim, the old lease writes nothing", async () => {
      const { store } = await open({ leaseTtlMs: 60_000 });
      const c = await newContainer(store);
      const old = leaseOf(c);
      const e = await store.createExecution(old, {
        id: id("exec"),
        code: "f",
        language: "python",
        apiKeyOwner: undefined,
      });
      await store.appendCall(old, e.id, { guestCallId: 1, callId: "toolu_1", tool: "t", input: {} });
      // Node A never heartbeat: its lease is claimable at once.
      const claimed = await store.claimContainer(c.id, B, c.epoch);
      assert.equal(claimed?.epoch, 2);
      assert.equal(claimed?.ownerNode, B);
      const before = await store.containerHistory(c.id);
      // Thunks, each started and awaited in turn: every one must be refused on its own.
      const refused = [
        () => store.touchContainer(old, IDLE),
        () => store.createExecution(old, { id: id("exec"), code: "g", language: "python", apiKeyOwner: undefined }),
        () => store.appendCall(old, e.id, { guestCallId: 2, callId: "toolu_2", tool: "t", input: {} }),
        () => store.recordCallResult(old, e.id, 1, { outcome: "ok", value: 1 }),
        () => store.setExecutionStatus(old, e.id, "paused"),
        () => store.finishExecution(old, e.id, { status: "done", result: null }),
        () => store.endContainer(c.id, "deleted", old),
      ];
      for (const write of refused) await assert.rejects(write(), rejectsWith(ErrorCode.ContainerLeaseLost));
      assert.deepEqual(await store.containerHistory(c.id), before);
      const now = await store.getContainer(c.id);
      assert.equal(now?.status, "live");
      assert.equal(now?.lastUsedAt, c.lastUsedAt);
      // The new lease writes.
      const lease = leaseOf(claimed as StoredContainer);
      assert.equal((await store.recordCallResult(lease, e.id, 1, { outcome: "ok", value: 1 })).completedOrder, 1);
      await assert.rejects(
        store.touchContainer({ containerId: "container_unknown", epoch: 1 }, 1),
        rejectsWith(ErrorCode.NotFound),
      );
      await store.close();
    });

    it("claims only from a seen epoch, and not while the owner's heartbeat is fresh", async () => {
      const { store } = await open({ leaseTtlMs: 300 });
      await store.heartbeat(A, "http://a");
      const c = await newContainer(store, A);
      assert.equal(await store.claimContainer(c.id, B, c.epoch), undefined, "the owner is alive");
      const mine = await store.claimContainer(c.id, A, c.epoch);
      assert.equal(mine?.epoch, 2, "the owner may claim again (after a restart)");
      assert.equal(await store.claimContainer(c.id, A, c.epoch), undefined, "a stale seen epoch");
      await sleep(450);
      const taken = await store.claimContainer(c.id, B, 2);
      assert.equal(taken?.ownerNode, B, "the owner's heartbeat is older than the TTL");
      assert.deepEqual(
        (await store.liveContainers(B)).map((x) => x.id),
        [c.id],
      );
      await store.endContainer(c.id, "deleted");
      assert.equal(await store.claimContainer(c.id, A, 3), undefined, "an ended container");
      assert.equal(await store.claimContainer("container_unknown", A, 1), undefined);
      await store.close();
    });

    it("lets exactly one of two concurrent claims with the same seen epoch win", async () => {
      const { store, open: again } = await open();
      const other = await again();
      for (let round = 0; round < 10; round++) {
        const c = await newContainer(store);
        const claims = await Promise.all([store.claimContainer(c.id, A, 1), other.claimContainer(c.id, B, 1)]);
        const winners = claims.filter((x) => x !== undefined);
        assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(claims)}`);
        const final = await store.getContainer(c.id);
        assert.equal(final?.epoch, 2);
        assert.equal(final?.ownerNode, winners[0]?.ownerNode);
      }
      await Promise.all([store.close(), other.close()]);
    });

    it("sweeps expired containers once each, even with two sweepers at the same time", async () => {
      const { store, open: again } = await open();
      const other = await again();
      const expired = new Set<string>();
      for (let i = 0; i < 24; i++) expired.add((await newContainer(store, A, 0)).id);
      const kept = await newContainer(store, A, IDLE);
      await sleep(5);
      assert.equal((await store.sweepExpired(0)).length, 0);
      const sweep = async (s: Store) => {
        const seen: string[] = [];
        for (;;) {
          const batch = await s.sweepExpired(5);
          assert.ok(batch.length <= 5);
          if (batch.length === 0) return seen;
          for (const c of batch) {
            assert.equal(c.status, "ended");
            assert.equal(c.endReason, "expired");
          }
          seen.push(...batch.map((c) => c.id));
        }
      };
      const [first, second] = await Promise.all([sweep(store), sweep(other)]);
      const all = [...first, ...second];
      assert.equal(new Set(all).size, all.length, "no container swept twice");
      assert.deepEqual(new Set(all), expired);
      assert.equal((await store.getContainer(kept.id))?.status, "live");
      await Promise.all([store.close(), other.close()]);
    });

    it("prunes tombstones past the count and age bounds, with their executions", async () => {
      const { store } = await open();
      const ended: StoredContainer[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await newContainer(store);
        await store.createExecution(leaseOf(c), {
          id: `exec_prune_${c.id}`,
          code: "x",
          language: "python",
          apiKeyOwner: undefined,
        });
        await store.endContainer(c.id, "expired");
        ended.push(c);
        await sleep(3);
      }
      const live = await newContainer(store);
      assert.equal(await store.pruneEnded({ maxEndedContainers: 2, endedContainerRetentionMs: 3_600_000 }), 2);
      const left = await Promise.all(ended.map((c) => store.getContainer(c.id)));
      assert.deepEqual(
        left.map((c) => c?.id),
        [undefined, undefined, ended[2]?.id, ended[3]?.id],
        "the oldest go first",
      );
      assert.equal(await store.getExecution(`exec_prune_${ended[0]?.id}`), undefined);
      assert.deepEqual(await store.containerHistory(ended[0]?.id as string), []);
      await sleep(10);
      assert.equal(await store.pruneEnded({ maxEndedContainers: 100, endedContainerRetentionMs: 1 }), 2);
      assert.equal((await store.getContainer(live.id))?.status, "live");
      await store.deleteContainer(live.id);
      assert.equal(await store.getContainer(live.id), undefined);
      await store.close();
    });

    it("refuses a recorded value over the cap with recorded_value_too_large, writing nothing", async () => {
      const { store } = await open({ maxRecordedValueBytes: 1_000 });
      const c = await newContainer(store);
      const lease = leaseOf(c);
      const big = "é".repeat(600); // 1,200 bytes in UTF-8, 600 characters
      await assert.rejects(
        store.createExecution(lease, { id: id("exec"), code: big, language: "python", apiKeyOwner: undefined }),
        rejectsWith(ErrorCode.RecordedValueTooLarge),
      );
      const e = await store.createExecution(lease, {
        id: id("exec"),
        code: "ok",
        language: "python",
        apiKeyOwner: undefined,
      });
      await assert.rejects(
        store.appendCall(lease, e.id, { guestCallId: 1, callId: "toolu_1", tool: "t", input: { big } }),
        (error: unknown) => PtcError.is(error, ErrorCode.RecordedValueTooLarge) && error.details.limit === 1_000,
      );
      await store.appendCall(lease, e.id, { guestCallId: 1, callId: "toolu_1", tool: "t", input: { small: 1 } });
      await assert.rejects(
        store.recordCallResult(lease, e.id, 1, { outcome: "ok", value: big }),
        rejectsWith(ErrorCode.RecordedValueTooLarge),
      );
      await assert.rejects(
        store.finishExecution(lease, e.id, { status: "done", result: { stdout: big } }),
        rejectsWith(ErrorCode.RecordedValueTooLarge),
      );
      const [history] = await store.containerHistory(c.id);
      assert.equal(history?.execution.status, "running");
      assert.deepEqual(
        history?.calls.map((x) => [x.n, x.outcome]),
        [[1, undefined]],
      );
      await store.close();
    });

    it("keeps workers with their heartbeats and tells live from stale", async () => {
      const { store } = await open({ leaseTtlMs: 200 });
      const first = await store.heartbeat(A, "http://10.0.0.1:7000");
      await sleep(300);
      const beat = await store.heartbeat(B, "http://10.0.0.2:7000");
      assert.ok(beat.heartbeatAt > first.heartbeatAt);
      assert.deepEqual(
        (await store.workers()).map((w) => [w.id, w.url, w.alive]),
        [
          [A, "http://10.0.0.1:7000", false],
          [B, "http://10.0.0.2:7000", true],
        ],
      );
      await store.heartbeat(A, "http://10.0.0.9:7000");
      await store.removeWorker(B);
      assert.deepEqual(
        (await store.workers()).map((w) => [w.id, w.url, w.alive]),
        [[A, "http://10.0.0.9:7000", true]],
      );
      await store.close();
    });

    if (backend.durable) {
      it("keeps everything across close and open", async () => {
        const { store, open: again } = await open();
        const c = await newContainer(store);
        const lease = leaseOf(c);
        const e = await store.createExecution(lease, {
          id: id("exec"),
          code: "import os",
          language: "python",
          apiKeyOwner: "k",
        });
        await store.appendCall(lease, e.id, { guestCallId: 1, callId: "toolu_1", tool: "t", input: { q: "x" } });
        await store.recordCallResult(lease, e.id, 1, { outcome: "ok", value: ["r"] });
        await store.finishExecution(lease, e.id, { status: "failed", result: { error: "boom" } });
        await store.heartbeat(A, "http://a");
        const before = { container: await store.getContainer(c.id), history: await store.containerHistory(c.id) };
        await store.close();
        const reopened = await again();
        assert.deepEqual(
          { container: await reopened.getContainer(c.id), history: await reopened.containerHistory(c.id) },
          before,
        );
        assert.deepEqual(
          (await reopened.workers()).map((w) => w.id),
          [A],
        );
        await reopened.close();
      });
    }
  });
}
