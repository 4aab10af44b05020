import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { McpServerConfig } from "../src/config/ptc-config.js";
import { ErrorCode, PtcError } from "../src/protocol/errors.js";
import type { ToolCallContext } from "../src/protocol/tool.js";
import { parseMcpFlag, splitCommandLine } from "../src/sources/mcp/mcp-flag.js";
import { mcpServerPrefix, nameMcpTools } from "../src/sources/mcp/mcp-naming.js";
import { convertMcpResult } from "../src/sources/mcp/mcp-results.js";
import { McpToolSource } from "../src/sources/mcp/mcp-tool-source.js";
import { openToolSources, type ToolSet } from "../src/sources/tool-set.js";
import { ToolRegistry } from "../src/tools/tool-registry.js";
import { delay, testEngine } from "./helpers/engine.js";

/** Real servers from the pinned devDependencies, run with this Node over stdio. */
const EVERYTHING = resolve("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const FILESYSTEM = resolve("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");

function everythingServer(extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { command: process.execPath, args: [EVERYTHING, "stdio"], ...extra };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

function callContext(timeoutMs = 30_000): ToolCallContext {
  return {
    callId: "test",
    executionId: "test",
    containerId: "test",
    caller: "code_execution",
    signal: new AbortController().signal,
    deadline: Date.now() + timeoutMs,
  };
}

describe("parseMcpFlag", () => {
  test("a command line: split like a shell, name from the package", () => {
    assert.deepEqual(parseMcpFlag("npx -y @modelcontextprotocol/server-filesystem /data"), [
      "filesystem",
      { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/data"] },
    ]);
    assert.deepEqual(parseMcpFlag(`node "my dir/server.js" --root '/a b' plain\\ space "say \\"hi\\""`), [
      "my_dir",
      { command: "node", args: ["my dir/server.js", "--root", "/a b", "plain space", 'say "hi"'] },
    ]);
    assert.deepEqual(parseMcpFlag("mcp-server-everything"), ["everything", { command: "mcp-server-everything" }]);
  });

  test("derived names", () => {
    const name = (value: string) => parseMcpFlag(value)[0];
    assert.equal(name("npx -y mcp-server-everything"), "everything");
    assert.equal(name("npx server-everything"), "everything");
    assert.equal(name("npx -y @modelcontextprotocol/server-filesystem@2026.8.31 /tmp"), "filesystem");
    assert.equal(name("uvx mcp-server-fetch"), "fetch");
    assert.equal(name("python -m mcp_server_time --local-timezone UTC"), "time");
    assert.equal(name("npx -y firecrawl-mcp"), "firecrawl");
    assert.equal(name("/usr/local/bin/github-mcp-server stdio"), "github");
    assert.equal(name(`node ${EVERYTHING} stdio`), "everything");
    assert.equal(name("node ./weather/dist/index.js"), "weather");
    assert.equal(name("./2fa-tool"), "mcp_2fa_tool");
    assert.equal(name("docker run -i --rm -e GITHUB_TOKEN ghcr.io/github/github-mcp-server:v1"), "github");
    assert.equal(name("docker run -i --rm -v /data:/data mcp/filesystem /data"), "filesystem");
  });

  test("URLs, explicit names, errors", () => {
    assert.deepEqual(parseMcpFlag("https://mcp.example.com/mcp"), ["example", { url: "https://mcp.example.com/mcp" }]);
    assert.deepEqual(parseMcpFlag("http://localhost:3001/mcp"), ["localhost", { url: "http://localhost:3001/mcp" }]);
    assert.deepEqual(parseMcpFlag("docs=https://docs.example.org/mcp?x=1"), [
      "docs",
      { url: "https://docs.example.org/mcp?x=1" },
    ]);
    assert.deepEqual(parseMcpFlag("fs=npx -y @modelcontextprotocol/server-filesystem /data"), [
      "fs",
      { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/data"] },
    ]);
    assert.throws(() => parseMcpFlag("  "), /expected a command line/);
    assert.throws(() => parseMcpFlag(`node "unterminated`), /unterminated " quote/);
    assert.throws(() => parseMcpFlag("https://exa mple.com"), /not a valid URL/);
    assert.deepEqual(splitCommandLine(`a '' "" b`), ["a", "", "", "b"]);
  });
});

describe("MCP naming and result mapping", () => {
  test("server prefixes are clean identifiers and never collide", () => {
    assert.equal(mcpServerPrefix("filesystem"), "filesystem");
    assert.equal(mcpServerPrefix("my_fs"), "my_fs");
    const squashed = ["brave-search", "brave.search", "brave__search", "brave_search_", "_brave_search"].map(
      mcpServerPrefix,
    );
    for (const prefix of squashed) assert.match(prefix, /^brave_search_[0-9a-f]{4}$/);
    assert.equal(new Set([...squashed, mcpServerPrefix("brave_search")]).size, 6);
    assert.match(mcpServerPrefix("1password"), /^mcp_1password_[0-9a-f]{4}$/);
    assert.match(mcpServerPrefix("---"), /^mcp_[0-9a-f]{4}$/);
    assert.equal(mcpServerPrefix("brave-search"), mcpServerPrefix("brave-search"), "stable");
  });

  test("tool names: `{server}__{tool}`, sanitized, unique, within 128 characters", () => {
    const names = nameMcpTools("fs", ["read_file", "get-sum", "get_sum", "a.b", "a-b", "x".repeat(200)]);
    const hosts = [...names.keys()];
    assert.equal(hosts[0], "fs__read_file");
    assert.equal(hosts[2], "fs__get_sum", "the unchanged name keeps the clean form");
    assert.match(hosts[1] as string, /^fs__get_sum_[0-9a-f]{4}$/);
    assert.notEqual(hosts[3], hosts[4]);
    for (const host of hosts) assert.match(host, /^[A-Za-z_][A-Za-z0-9_]{0,127}$/);
    assert.deepEqual([...names.values()], ["read_file", "get-sum", "get_sum", "a.b", "a-b", "x".repeat(200)]);
  });

  test("results: structured, text, content lists, errors", () => {
    const origin = { server: "s", tool: "t" };
    assert.deepEqual(convertMcpResult({ content: [], structuredContent: { n: 1 } }, origin), { n: 1 });
    assert.equal(
      convertMcpResult(
        {
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
        origin,
      ),
      "a\nb",
    );
    assert.equal(convertMcpResult({ content: [] }, origin), null);
    assert.deepEqual(
      convertMcpResult(
        {
          content: [
            { type: "audio", mimeType: "audio/wav", data: "AAAA" },
            { type: "resource", resource: { uri: "file:///x.bin", blob: "AQID" } },
            { type: "resource_link", uri: "file:///y", name: "y", title: "Y", annotations: { priority: 1 } },
          ],
        },
        origin,
      ),
      [
        { type: "audio", mime_type: "audio/wav", data: "AAAA" },
        { type: "resource", uri: "file:///x.bin", mime_type: null, blob: "AQID" },
        {
          type: "resource_link",
          uri: "file:///y",
          name: "y",
          mime_type: null,
          title: "Y",
          annotations: { priority: 1 },
        },
      ],
    );
    assert.throws(
      () => convertMcpResult({ content: [{ type: "text", text: "disk on fire" }], isError: true }, origin),
      (error: unknown) => PtcError.is(error, ErrorCode.ToolError) && error.message === "disk on fire",
    );
  });
});

describe("MCP servers through the engine", () => {
  const engine = testEngine();
  let directory: string;
  let toolSet: ToolSet;
  let everything: McpToolSource;
  let filesystem: McpToolSource;
  const FILES = 40;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "ptc-mcp-"));
    for (let i = 0; i < FILES; i++) {
      await writeFile(join(directory, `note-${String(i).padStart(2, "0")}.txt`), `note ${i}\n${"x".repeat(i)}\n`);
    }
    everything = new McpToolSource("everything", everythingServer({ env: { PTC_TEST_MARKER: "from-config" } }));
    filesystem = new McpToolSource("filesystem", { command: process.execPath, args: [FILESYSTEM, directory] });
    const broken = new McpToolSource("broken", { command: "ptc-no-such-mcp-server-command", args: ["--stdio"] });
    toolSet = await openToolSources([everything, filesystem, broken]);
  });

  after(async () => {
    await toolSet?.close();
    await engine.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  test("a server that cannot start fails alone, with an error naming it", () => {
    assert.equal(toolSet.failures.length, 1);
    const failure = toolSet.failures[0];
    assert.equal(failure?.source, "broken");
    assert.match(
      failure?.error.message ?? "",
      /MCP server "broken" failed to start: cannot run "ptc-no-such-mcp-server-command" \(command not found\)/,
    );
    const names = toolSet.tools.map((tool) => tool.name);
    assert.ok(names.includes("everything__echo"), names.join(", "));
    assert.ok(names.includes("everything__get_sum"));
    assert.ok(names.includes("filesystem__read_text_file"));
    assert.ok(toolSet.tools.every((tool) => tool.allowedCallers?.join() === "code_execution"));
    const structured = toolSet.tools.find((tool) => tool.name === "everything__get_structured_content");
    assert.equal(structured?.outputSchema?.type, "object", "outputSchema is passed on");
  });

  test("Python stubs name every MCP tool", () => {
    const stubs = ToolRegistry.from(toolSet.tools).pythonStubs();
    assert.match(stubs, /async def filesystem__read_text_file\(/);
    assert.match(stubs, /async def everything__echo\(\*, message: str\)/);
    assert.match(stubs, /Echoes back the input string/);
  });

  test("echo, sum, structured content, an image, an error, the server's env", async () => {
    const result = await engine.execute({
      code: [
        'print(await everything__echo(message="hi"))',
        "print(await everything__get_sum(a=2, b=40))",
        'weather = await everything__get_structured_content(location="Chicago")',
        "print(type(weather).__name__, sorted(weather))",
        "image = await everything__get_tiny_image()",
        "print([(item['type'], item.get('mime_type')) for item in image], image[1]['data'][:8])",
        "env = await everything__get_env()",
        "print('PTC_TEST_MARKER' in env, 'from-config' in env)",
        "try:",
        '    await filesystem__read_text_file(path="/etc/passwd")',
        "except ToolError as error:",
        "    print('ToolError', error.code, str(error)[:13])",
      ].join("\n"),
      tools: toolSet.tools,
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(
      result.stdout,
      [
        "Echo: hi",
        "The sum of 2 and 40 is 42.",
        "dict ['conditions', 'humidity', 'temperature']",
        "[('text', None), ('image', 'image/png'), ('text', None)] iVBORw0K",
        "True True",
        "ToolError tool_error Access denied",
        "",
      ].join("\n"),
    );
    assert.equal(result.toolCalls.length, 6);
  });

  test("a script reads 40 files through the filesystem server and prints only a summary", async () => {
    const code = [
      "listing = await filesystem__list_directory(path=ROOT)",
      "names = sorted(line.split(' ', 1)[1] for line in listing['content'].splitlines() if line.startswith('[FILE]'))",
      "total = 0",
      "longest = ''",
      "for name in names:",
      "    text = (await filesystem__read_text_file(path=ROOT + '/' + name))['content']",
      "    total += len(text)",
      "    if len(text) > len(longest): longest = name",
      "print(len(names), total, longest)",
    ].join("\n");
    const result = await engine.execute({ code: `ROOT = ${JSON.stringify(directory)}\n${code}`, tools: toolSet.tools })
      .result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    let total = 0;
    for (let i = 0; i < FILES; i++) total += `note ${i}\n${"x".repeat(i)}\n`.length;
    assert.equal(result.stdout, `${FILES} ${total} note-39.txt\n`);
    assert.equal(result.toolCalls.length, FILES + 1);
    assert.ok(result.toolCalls.every((call) => call.ok));
  });

  test("the engine's tool timeout cancels the MCP request; the session carries on", async () => {
    const result = await engine.execute({
      code: [
        "try:",
        "    await everything__trigger_long_running_operation(duration=10, steps=2)",
        "except ToolTimeoutError as error:",
        "    print('timeout', error.code)",
        'print(await everything__echo(message="after"))',
      ].join("\n"),
      tools: toolSet.tools,
      limits: { toolTimeoutMs: 500 },
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "timeout tool_timeout\nEcho: after\n");
  });

  test("a crashed server restarts once on the next call", async () => {
    const pid = everything.pid;
    assert.ok(pid !== null && isRunning(pid));
    process.kill(pid, "SIGKILL");
    await waitFor(() => everything.pid === null, "the transport to see the exit");
    const result = await engine.execute({
      code: 'print(await everything__echo(message="again"))',
      tools: toolSet.tools,
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "Echo: again\n");
    const restarted = everything.pid;
    assert.ok(restarted !== null && restarted !== pid && isRunning(restarted));
  });

  test("close() leaves no server process running", async () => {
    const pids = [everything.pid, filesystem.pid];
    assert.ok(pids.every((pid) => pid !== null && isRunning(pid)));
    await toolSet.close();
    await waitFor(() => pids.every((pid) => !isRunning(pid as number)), "the servers to exit");
    await assert.rejects(everything.callTool("everything__echo", { message: "x" }, callContext()), /is closed/);
  });
});

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
