import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { McpToolSource } from "../../../src/sources/mcp/mcp-tool-source.js";
import { callContext, EVERYTHING, waitFor } from "../../helpers/mcp-servers.js";

describe("MCP over streamable HTTP", () => {
  let server: ChildProcess | undefined;
  let url: string;

  before(async () => {
    // A free port for the everything server, which only takes one from $PORT.
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    await new Promise((done) => probe.close(done));
    const child = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
      env: { ...process.env, PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    server = child;
    let output = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(() => output.includes("listening on port"), "the HTTP server", 30_000);
    url = `http://127.0.0.1:${port}/mcp`;
  });

  after(() => {
    server?.kill("SIGKILL");
  });

  test("tools and results over HTTP", async () => {
    const source = new McpToolSource("web", { url, headers: { Authorization: "Bearer test-token" } });
    try {
      const tools = await source.listTools();
      assert.ok(tools.some((tool) => tool.name === "web__echo"));
      assert.equal(source.pid, null);
      assert.equal(await source.callTool("web__echo", { message: "over http" }, callContext()), "Echo: over http");
      assert.deepEqual(
        Object.keys(
          (await source.callTool("web__get_structured_content", { location: "Chicago" }, callContext())) as object,
        ).sort(),
        ["conditions", "humidity", "temperature"],
      );
    } finally {
      await source.close();
    }
  });

  test("headers are sent; a refused connection names the server", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const refusing = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(401, { "content-type": "text/plain" }).end("bad token");
    }).listen(0, "127.0.0.1");
    await once(refusing, "listening");
    const { port } = refusing.address() as AddressInfo;
    const source = new McpToolSource("private", {
      url: `http://127.0.0.1:${port}/mcp`,
      headers: { Authorization: "Bearer secret-1", "X-Team": "data" },
    });
    try {
      await assert.rejects(source.listTools(), /MCP server "private" failed to start: HTTP 401: .*bad token/);
      assert.equal(seen[0]?.authorization, "Bearer secret-1");
      assert.equal(seen[0]?.["x-team"], "data");
    } finally {
      await source.close();
      await new Promise((done) => refusing.close(done));
    }
  });
});
