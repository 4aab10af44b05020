import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ContainerRecord,
  InMemoryContainerRegistry,
  newContainerId,
} from "../../src/engine/container-registry.js";

function record(id: string, at = 1_000): ContainerRecord {
  return { id, owner: "owner-a", createdAt: at, lastUsedAt: at, expiresAt: at + 60_000 };
}

describe("InMemoryContainerRegistry", () => {
  test("a record is live until it ends; then it stays as a tombstone with its end reason", () => {
    const registry = new InMemoryContainerRegistry();
    registry.put(record("c1"));
    registry.put(record("c2"));
    assert.deepEqual(
      [...registry.live()].map((entry) => entry.id),
      ["c1", "c2"],
    );
    assert.equal(registry.end("c1", "expired", 5_000), true);
    assert.equal(registry.end("c1", "evicted", 6_000), false, "an ended record ends once");
    assert.equal(registry.end("unknown", "expired", 6_000), false);
    assert.deepEqual(
      [...registry.live()].map((entry) => entry.id),
      ["c2"],
    );
    assert.deepEqual(
      { endedAt: registry.get("c1")?.endedAt, endReason: registry.get("c1")?.endReason },
      { endedAt: 5_000, endReason: "expired" },
    );
    registry.delete("c1");
    assert.equal(registry.get("c1"), undefined, "a deleted record is unknown");
  });

  test("tombstones are bounded by count at every end, oldest forgotten first", () => {
    const registry = new InMemoryContainerRegistry({ maxEndedContainers: 2 });
    for (const id of ["c1", "c2", "c3"]) {
      registry.put(record(id));
      registry.end(id, "expired", 2_000);
    }
    assert.equal(registry.get("c1"), undefined, "the oldest tombstone went when the third ended");
    assert.equal(registry.get("c2")?.endReason, "expired");
    assert.equal(registry.get("c3")?.endReason, "expired");
  });

  test("tombstones past their retention are forgotten by pruneEnded; live records never are", () => {
    const registry = new InMemoryContainerRegistry({ endedContainerRetentionMs: 1_000 });
    registry.put(record("old"));
    registry.put(record("recent"));
    registry.put(record("live", 0));
    registry.end("old", "expired", 10_000);
    registry.end("recent", "deleted", 10_800);
    registry.pruneEnded(11_500);
    assert.equal(registry.get("old"), undefined);
    assert.equal(registry.get("recent")?.endReason, "deleted");
    assert.equal(registry.get("live")?.endedAt, undefined);
  });

  test("container ids have one format, Anthropic's (container_01 and 22 base62 characters)", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newContainerId()));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^container_01[0-9A-Za-z]{22}$/);
  });
});
