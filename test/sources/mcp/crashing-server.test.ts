import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { McpToolSource } from "../../../src/sources/mcp/mcp-tool-source.js";
import { delay } from "../../helpers/engine.js";
import { callContext, everythingServer, waitFor } from "../../helpers/mcp-servers.js";

describe("MCP server crashes", () => {
  test("a call in flight fails clearly; a second crash leaves the source failed", async () => {
    const source = new McpToolSource("flaky", everythingServer());
    try {
      await source.listTools();
      // Crash during a call: the request was sent, so it is not retried.
      const first = source.pid as number;
      const call = source.callTool("flaky__trigger_long_running_operation", { duration: 5, steps: 5 }, callContext());
      await delay(300);
      process.kill(first, "SIGKILL");
      await assert.rejects(call, /MCP server "flaky" exited during the call to trigger-long-running-operation/);
      // The next call restarts it.
      assert.equal(await source.callTool("flaky__echo", { message: "back" }, callContext()), "Echo: back");
      // A second crash: the source stays failed, naming the server.
      const second = source.pid as number;
      assert.notEqual(second, first);
      process.kill(second, "SIGKILL");
      await waitFor(() => source.pid === null, "the transport to see the exit");
      await assert.rejects(source.callTool("flaky__echo", { message: "x" }, callContext()), (error: unknown) => {
        assert.ok(PtcError.is(error, ErrorCode.ToolError));
        assert.match(error.message, /MCP server "flaky" exited again after a restart; its tools are unavailable/);
        return true;
      });
      await assert.rejects(source.callTool("flaky__echo", { message: "x" }, callContext()), /exited again/);
    } finally {
      await source.close();
    }
  });

  test("a server that exits at start-up: its stderr is in the error", async () => {
    const source = new McpToolSource("bad", {
      command: process.execPath,
      args: ["-e", "console.error('config file missing: /etc/bad.json'); process.exit(3)"],
    });
    await assert.rejects(source.listTools(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^MCP server "bad" failed to start: the server exited before it was ready/);
      assert.match(error.message, /config file missing: \/etc\/bad\.json/);
      return true;
    });
    await source.close();
  });

  test("a tool list whose cursor repeats fails at once instead of growing until the timeout", async () => {
    const source = new McpToolSource("looping", {
      command: process.execPath,
      args: [resolve("test/fixtures/cursor-loop-mcp-server.mjs")],
      connectTimeoutMs: 20_000,
    });
    const started = Date.now();
    await assert.rejects(
      source.listTools(),
      /MCP server "looping" failed to start: tools\/list returned the cursor "page-2" twice/,
    );
    assert.ok(Date.now() - started < 10_000);
    await source.close();
  });

  test("connectTimeoutMs bounds a server that never answers", async () => {
    const source = new McpToolSource("silent", {
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
      connectTimeoutMs: 500,
    });
    await assert.rejects(source.listTools(), /MCP server "silent" failed to start: no answer within 500 ms/);
    await source.close();
  });

  test("the per-call deadline cancels a slow MCP request", async () => {
    const source = new McpToolSource("slow", everythingServer());
    try {
      await source.listTools();
      const started = Date.now();
      await assert.rejects(
        source.callTool("slow__trigger_long_running_operation", { duration: 10, steps: 2 }, callContext(400)),
        (error: unknown) => PtcError.is(error, ErrorCode.ToolTimeout) && /did not answer in time/.test(error.message),
      );
      assert.ok(Date.now() - started < 5_000);
      // The session survives the cancellation.
      assert.equal(await source.callTool("slow__echo", { message: "still here" }, callContext()), "Echo: still here");
    } finally {
      await source.close();
    }
  });
});
