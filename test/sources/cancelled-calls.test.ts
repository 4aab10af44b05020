import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { createToolServerApp, type ServerTool } from "../../examples/tool-server/server.js";
import { HttpToolSource } from "../../src/sources/http/http-tool-source.js";
import { McpToolSource } from "../../src/sources/mcp/mcp-tool-source.js";
import { openToolSources } from "../../src/sources/tool-set.js";
import { delay, testEngine } from "../helpers/engine.js";
import { listen } from "../helpers/loopback.js";
import { waitFor } from "../helpers/mcp-servers.js";

const engine = testEngine();
after(() => engine.close());

/** Gives up on one call after 0.3 s, then keeps running for a second. */
const GIVE_UP = (call: string) =>
  [
    "import asyncio",
    "try:",
    `    await asyncio.wait_for(${call}, timeout=0.3)`,
    "except TimeoutError:",
    "    print('gave up')",
    "await asyncio.sleep(1.0)",
  ].join("\n");

describe("a call the script gives up on is cancelled at its source", () => {
  test("MCP: the server receives notifications/cancelled while the script still runs", async () => {
    const directory = await mkdtemp(join(tmpdir(), "ptc-mcp-cancel-"));
    after(() => rm(directory, { recursive: true, force: true }));
    const log = join(directory, "calls.log");
    const toolSet = await openToolSources([
      new McpToolSource("waiter", {
        command: process.execPath,
        args: [resolve("test/fixtures/cancellable-mcp-server.mjs"), log],
      }),
    ]);
    after(() => toolSet.close());
    const execution = engine.execute({ code: GIVE_UP("waiter__wait()"), tools: toolSet.tools });
    const read = () => readFile(log, "utf8").catch(() => "");
    let seen = "";
    let ended = false;
    void execution.result.finally(() => {
      ended = true;
    });
    // What the server had logged by the time the script ended (it sleeps a second after giving up).
    while (!ended && !seen.includes("cancelled")) {
      seen = await read();
      await delay(20);
    }
    const result = await execution.result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "gave up\n");
    assert.equal(seen, "started\ncancelled\n", "the server saw the cancellation before the script ended");
    assert.equal(result.toolCalls[0]?.outcome, "cancelled");
  });

  test("HTTP tool server: the request is aborted while the script still runs", async () => {
    let aborted = false;
    let abortedBeforeEnd = false;
    let running = true;
    const hang: ServerTool = {
      definition: { name: "hang", description: "Answers only when aborted.", input_schema: { type: "object" } },
      run: (_input, call) =>
        new Promise((_resolve, reject) => {
          call.signal.addEventListener("abort", () => {
            aborted = true;
            abortedBeforeEnd = running;
            reject(new Error("aborted"));
          });
        }),
    };
    const baseUrl = await listen(createToolServerApp({ token: "t", tools: [hang] }));
    const toolSet = await openToolSources([new HttpToolSource("remote", { url: baseUrl, token: "t" })]);
    after(() => toolSet.close());
    const result = await engine.execute({ code: GIVE_UP("hang()"), tools: toolSet.tools }).result;
    running = false;
    await waitFor(() => aborted, "the server to see the abort", 2_000);
    assert.equal(result.stdout, "gave up\n");
    assert.ok(abortedBeforeEnd, "the request was aborted only when the execution ended");
    assert.equal(result.toolCalls[0]?.outcome, "cancelled");
  });
});
