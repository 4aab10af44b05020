import assert from "node:assert/strict";
import { request } from "node:http";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { DEFAULT_PORT as TOOL_SERVER_PORT } from "../../examples/tool-server/server.js";
import { DEFAULT_PORT as SERVE_PORT } from "../../src/server/http/start-server.js";
import { DEFAULT_MCP_HTTP_PORT } from "../../src/server/mcp/mcp-http-server.js";
import { PTC_BIN } from "../helpers/cli.js";
import { startServingCli } from "../helpers/server.js";

// These run bin/ptc.js, which runs dist/: `npm run build` first.

/** A request that gets no answer (its frame was corrupted) fails the test instead of hanging it. */
const REQUEST_TIMEOUT_MS = 30_000;

const environment = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
);

function text(result: unknown): string {
  const content = (result as CallToolResult).content;
  return content.map((part) => (part.type === "text" ? part.text : "")).join("");
}

async function stdioClient(args: readonly string[]): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PTC_BIN, "mcp", ...args],
    env: environment,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
  return { client, stderr: () => stderr };
}

describe("the ptc mcp command", () => {
  const code = `rows = await query_database(sql="SELECT COUNT(*) AS n FROM orders")\nprint("orders:", rows[0]["n"])`;

  test("over stdio, `ptc mcp` alone serves the sample tools", async () => {
    const { client } = await stdioClient([]);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((tool) => tool.name),
        ["execute_code"],
      );
      assert.match(tools[0]?.description ?? "", /async def query_database\(\*, sql: str\)/);
      const result = await client.callTool({ name: "execute_code", arguments: { code } });
      assert.match(text(result), /^orders: 20000\n\n\[ptc\] completed · return code 0 · 1 tool call · /);
    } finally {
      await client.close();
    }
  });

  test("over stdio, whatever else writes to stdout goes to stderr, never into the protocol", async () => {
    const { client, stderr } = await stdioClient(["--tools", "test/fixtures/noisy-tools.ts"]);
    try {
      const options = { timeout: REQUEST_TIMEOUT_MS };
      const result = await client.callTool(
        { name: "execute_code", arguments: { code: "print(await noisy())" } },
        undefined,
        options,
      );
      assert.match(text(result), /^done\n/);
      assert.equal(text(await client.callTool({ name: "noisy", arguments: {} }, undefined, options)), "done");
      assert.match(stderr(), /loading noisy tools\.\.\. /);
      assert.match(stderr(), /working\.\.\.a console line\n/);
    } finally {
      await client.close();
    }
  });

  test("`ptc mcp --http 0` serves streamable HTTP on loopback", async () => {
    const served = await startServingCli(["mcp", "--http", "0"]);
    try {
      const { url } = served;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const client = new Client({ name: "test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === "execute_code"));
      const progress: number[] = [];
      const result = await client.callTool({ name: "execute_code", arguments: { code } }, undefined, {
        onprogress: (update) => progress.push(update.progress),
      });
      assert.match(text(result), /^orders: 20000\n/);
      assert.deepEqual(progress, [1]);
      await client.close();
      assert.equal(await statusWithHost(url, "evil.example"), 403);
      assert.equal(await served.stop(), 0);
    } finally {
      served.child.kill("SIGKILL");
    }
  });
});

test("`ptc mcp --http` and `ptc serve` print their URL the same way, on stderr; stdout stays empty", async () => {
  for (const args of [
    ["mcp", "--http", "0"],
    ["serve", "--port", "0"],
  ]) {
    const served = await startServingCli(args, { env: { ...environment, PTC_API_KEYS: "test-key" } });
    try {
      assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+(\/mcp)?$/);
      assert.equal(await served.stop(), 0, `ptc ${args[0]}: ${served.child.signalCode} ${served.stderr()}`);
      assert.equal(served.stdout(), "", `ptc ${args[0]} wrote to stdout`);
    } finally {
      served.child.kill("SIGKILL");
    }
  }
});

test("the default ports of ptc mcp --http, ptc serve and the example tool server differ", () => {
  // The README's config points at the tool server on its default port while ptc mcp --http serves it.
  assert.equal(new Set([DEFAULT_MCP_HTTP_PORT, SERVE_PORT, TOOL_SERVER_PORT]).size, 3);
});

function statusWithHost(url: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: "POST", headers: { host, "content-type": "application/json" } },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    outgoing.once("error", reject);
    outgoing.end("{}");
  });
}
