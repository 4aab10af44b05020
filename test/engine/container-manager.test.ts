import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { ContainerManager } from "../../src/engine/container-manager.js";
import type { ContainerQuota, OwnedContainer } from "../../src/engine/container-quota.js";
import type { ContainerRecord } from "../../src/engine/container-registry.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";

/** Bookkeeping only: these cases never take a lease, so no sandbox is ever asked for. */
const noSandboxes = {
  acquire(): never {
    throw new Error("no sandbox in bookkeeping tests");
  },
  recycle(): never {
    throw new Error("no sandbox in bookkeeping tests");
  },
};

function manager(options: ConstructorParameters<typeof ContainerManager>[1] = {}): ContainerManager {
  const created = new ContainerManager(noSandboxes, options);
  return created;
}

/** At most `perOwner` counted containers per owner (the server's `ResourceOwners` has the same shape). */
function quotaOf(perOwner: number): ContainerQuota {
  return {
    refusal: (owner: string, counted: readonly OwnedContainer[]) =>
      counted.filter((entry) => entry.owner === owner).length >= perOwner ? new Error(`quota of ${owner}`) : undefined,
  };
}

describe("ContainerManager: turns", () => {
  test("turns in one container are granted one after another, in the order they were taken", async () => {
    const containers = manager();
    const { id } = containers.create("owner-a");
    const order: string[] = [];
    const first = containers.turn(id);
    const second = containers.turn(id);
    const third = containers.turn(id);
    assert.deepEqual([first.waiting, second.waiting, third.waiting], [false, true, true]);
    void second.granted.then(() => order.push("second"));
    void third.granted.then(() => order.push("third"));
    await first.granted;
    order.push("first");
    first.release();
    await second.granted;
    second.release();
    await third.granted;
    assert.deepEqual(order, ["first", "second", "third"]);
    assert.equal(containers.inspect(id)?.busy, true, "the third still holds it");
    third.release();
    assert.equal(containers.inspect(id)?.busy, false);
    containers.closeAll();
  });

  test("the idle event fires once when the last turn ends, not while another waits, and not for an ended container", async () => {
    const containers = manager();
    const idle: string[] = [];
    containers.onContainerIdle(() => {
      throw new Error("a broken listener: the others still run, nothing is uncaught");
    });
    const unsubscribe = containers.onContainerIdle((id) => idle.push(id));
    const { id } = containers.create("owner-a");
    const first = containers.turn(id);
    const second = containers.turn(id);
    await first.granted;
    first.release();
    await second.granted;
    assert.deepEqual(idle, [], "the second turn holds it");
    second.release();
    second.release();
    assert.deepEqual(idle, [], "after the release's own bookkeeping");
    await Promise.resolve();
    assert.deepEqual(idle, [id]);
    const last = containers.turn(id);
    await last.granted;
    last.release();
    containers.end(id, "deleted");
    await Promise.resolve();
    assert.deepEqual(idle, [id], "ended before the check ran");
    unsubscribe();
    containers.closeAll();
  });

  test("past maxWaitingPerContainer a turn is refused with container_queue_full; an aborted waiter leaves the queue", async () => {
    const containers = manager({ maxWaitingPerContainer: 2 });
    const { id } = containers.create("owner-a");
    const holder = containers.turn(id);
    const abort = new AbortController();
    const leaving = containers.turn(id, abort.signal);
    containers.turn(id);
    assert.throws(
      () => containers.turn(id),
      (error: unknown) => PtcError.is(error, ErrorCode.ContainerQueueFull),
    );
    abort.abort(new Error("gave up"));
    await assert.rejects(leaving.granted, /gave up/);
    const next = containers.turn(id);
    assert.equal(next.waiting, true, "room again after the aborted waiter left");
    holder.release();
    containers.closeAll();
  });

  test("a turn in an unknown or ended container is refused at once", () => {
    const containers = manager();
    assert.throws(() => containers.turn("container_01unknown"), /not live/);
    const { id } = containers.create("owner-a");
    containers.end(id, "deleted");
    assert.throws(() => containers.turn(id), /not live/);
    containers.closeAll();
  });
});

describe("ContainerManager: ending", () => {
  test("an idle container expires once: the ended event fires once, and its id is a tombstone with reason expired", async () => {
    const containers = manager({ idleTimeoutMs: 60_000 });
    const ended: Array<Readonly<ContainerRecord>> = [];
    containers.onContainerEnded((record) => ended.push(record));
    const idle = containers.create("owner-a");
    const busy = containers.create("owner-a");
    const turn = containers.turn(busy.id);
    const later = Date.now() + 61_000;
    containers.sweep(later);
    containers.sweep(later + 1_000);
    assert.deepEqual(
      ended.map((record) => [record.id, record.endReason]),
      [[idle.id, "expired"]],
      "once, and never the container a turn holds",
    );
    assert.equal(containers.has(idle.id), false);
    assert.equal(containers.record(idle.id)?.endReason, "expired");
    assert.equal(containers.has(busy.id), true);
    turn.release();
    containers.closeAll();
  });

  test("the idle sweep runs by itself at a quarter of the timeout", async () => {
    const containers = manager({ idleTimeoutMs: 200 });
    const ended: string[] = [];
    containers.onContainerEnded((record) => ended.push(record.id));
    const { id } = containers.create("owner-a");
    for (let i = 0; i < 40 && ended.length === 0; i++) await delay(50);
    assert.deepEqual(ended, [id]);
    containers.closeAll();
  });

  test("ending refuses the waiting turns; delete forgets the id; closeAll ends the rest as closed", async () => {
    const containers = manager();
    const reasons: string[] = [];
    containers.onContainerEnded((record) => reasons.push(`${record.endReason}`));
    const a = containers.create("owner-a");
    const holder = containers.turn(a.id);
    const waiting = containers.turn(a.id);
    containers.delete(a.id);
    await assert.rejects(waiting.granted, (error: unknown) => PtcError.is(error, ErrorCode.Cancelled));
    holder.release();
    assert.equal(containers.record(a.id), undefined, "a deleted container is unknown, not a tombstone");
    const b = containers.create("owner-b");
    containers.closeAll();
    assert.equal(containers.record(b.id)?.endReason, "closed");
    assert.deepEqual(reasons, ["deleted", "closed"]);
  });
});

describe("ContainerManager: owner quota", () => {
  test("creating past the quota ends the owner's own least recently used idle container, never another owner's", () => {
    const containers = manager();
    const quota = quotaOf(2);
    const other = containers.create("owner-b", { quota });
    const first = containers.create("owner-a", { quota });
    const second = containers.create("owner-a", { quota });
    const firstRecord = containers.registry.get(first.id);
    assert.ok(firstRecord);
    firstRecord.lastUsedAt -= 1_000;
    containers.create("owner-a", { quota });
    assert.equal(containers.record(first.id)?.endReason, "evicted");
    assert.equal(containers.has(second.id), true);
    assert.equal(containers.has(other.id), true);
    containers.closeAll();
  });

  test("with none of its containers idle, the owner is refused with the quota's error and nothing is created", () => {
    const containers = manager();
    const quota = quotaOf(1);
    const held = containers.create("owner-a", { quota });
    const turn = containers.turn(held.id);
    const before = containers.ids().length;
    assert.throws(() => containers.create("owner-a", { quota }), /quota of owner-a/);
    assert.throws(() => containers.checkRoom("owner-a", quota), /quota of owner-a/);
    assert.equal(containers.ids().length, before);
    turn.release();
    containers.checkRoom("owner-a", quota);
    containers.closeAll();
  });

  test("a container created without a quota counts only once makeRoom is called for it", () => {
    const containers = manager();
    const quota = quotaOf(1);
    const idle = containers.create("owner-a", { quota });
    const queued = containers.create("owner-a");
    assert.equal(containers.has(idle.id), true, "creating the uncounted one ended nothing");
    containers.makeRoom(queued.id, quota);
    assert.equal(containers.record(idle.id)?.endReason, "evicted");
    containers.makeRoom(queued.id, quota);
    assert.equal(containers.has(queued.id), true, "makeRoom twice counts it once");
    containers.closeAll();
  });

  test("a quota is one account: containers counted under another quota do not count against it", () => {
    const containers = manager();
    const server = quotaOf(1);
    const other = quotaOf(1);
    const first = containers.create("owner-a", { quota: other });
    const turn = containers.turn(first.id);
    containers.create("owner-a", { quota: server });
    assert.equal(containers.has(first.id), true);
    turn.release();
    containers.closeAll();
  });
});
