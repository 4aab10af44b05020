import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadConfig, parseConfig } from "../../src/config/load-config.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import { resolveServerCapacity } from "../../src/server/admission.js";

/** `${NAME}`, written so that it does not read as a misplaced template placeholder. */
const reference = (name: string) => `$\{${name}}`;

describe("ptc.config.json", () => {
  test("a whole URL can come from the environment, and is still checked as a URL", () => {
    const raw = {
      mcpServers: {
        tickets: { url: reference("TICKETS_URL"), headers: { Authorization: `Bearer ${reference("TICKETS_TOKEN")}` } },
      },
      toolServers: { inventory: { url: reference("INVENTORY_URL"), token: reference("INVENTORY_TOKEN") } },
    };
    const config = parseConfig(raw, "ptc.config.json", {
      TICKETS_URL: "https://mcp.example.com/mcp",
      TICKETS_TOKEN: "t-1",
      INVENTORY_URL: "http://127.0.0.1:8788",
      INVENTORY_TOKEN: "i-1",
    });
    assert.deepEqual(config.mcpServers?.tickets, {
      url: "https://mcp.example.com/mcp",
      headers: { Authorization: "Bearer t-1" },
    });
    assert.deepEqual(config.toolServers?.inventory, { url: "http://127.0.0.1:8788", token: "i-1" });
    assert.throws(
      () =>
        parseConfig(raw, "ptc.config.json", {
          TICKETS_URL: "not a url",
          TICKETS_TOKEN: "",
          INVENTORY_URL: "x",
          INVENTORY_TOKEN: "",
        }),
      (error: unknown) =>
        PtcError.is(error, ErrorCode.InvalidRequest) && /mcpServers\.tickets\.url/.test(error.message),
    );
  });

  test("a missing variable is an error naming the field and the variable", () => {
    assert.throws(
      () =>
        parseConfig(
          { toolServers: { inventory: { url: "http://h", token: reference("NOPE_TOKEN") } } },
          "cfg.json",
          {},
        ),
      (error: unknown) =>
        PtcError.is(error, ErrorCode.InvalidRequest) &&
        error.message === "cfg.json.toolServers.inventory.token: environment variable NOPE_TOKEN is not set",
    );
  });

  test("unknown fields are refused; no file means an empty config", async () => {
    assert.throws(() => parseConfig({ mcpServer: {} }, "ptc.config.json", {}), /ptc\.config\.json is invalid/);
    const directory = await mkdtemp(join(tmpdir(), "ptc-config-"));
    try {
      assert.deepEqual(await loadConfig(undefined, directory), { config: {}, path: undefined, directory });
      const file = join(directory, "ptc.config.json");
      await writeFile(file, JSON.stringify({ sample: true }));
      assert.deepEqual(await loadConfig(undefined, directory), { config: { sample: true }, path: file, directory });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("server capacity: per-key shares are half the server's with several keys, all of it with one, never above it", () => {
    const config = parseConfig(
      { server: { maxRunningExecutions: 6, maxContainers: 10, maxQueuedExecutionsPerKey: 3, maxContainersPerKey: 40 } },
      "ptc.config.json",
      {},
    );
    assert.deepEqual(resolveServerCapacity(config.server ?? {}, 2), {
      maxRunningExecutions: 6,
      maxQueuedExecutions: 256,
      maxRunningExecutionsPerKey: 3,
      maxQueuedExecutionsPerKey: 3,
      maxContainers: 10,
      maxContainersPerKey: 10,
      retryAfterSeconds: 2,
    });
    assert.deepEqual(resolveServerCapacity({}, 3), {
      maxRunningExecutions: 16,
      maxQueuedExecutions: 256,
      maxRunningExecutionsPerKey: 8,
      maxQueuedExecutionsPerKey: 128,
      maxContainers: 32,
      maxContainersPerKey: 16,
      retryAfterSeconds: 2,
    });
    const alone = resolveServerCapacity({ maxRunningExecutions: 2, maxQueuedExecutions: 3 }, 1);
    assert.equal(alone.maxRunningExecutionsPerKey, 2);
    assert.equal(alone.maxQueuedExecutionsPerKey, 3);
    assert.equal(alone.maxContainersPerKey, 32);
    assert.throws(
      () => parseConfig({ server: { maxContainersPerKey: 0 } }, "ptc.config.json", {}),
      /maxContainersPerKey/,
    );
  });
});
