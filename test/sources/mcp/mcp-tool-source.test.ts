import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { McpToolSource } from "../../../src/sources/mcp/mcp-tool-source.js";
import { openToolSources, type ToolSet } from "../../../src/sources/tool-set.js";
import { ToolRegistry } from "../../../src/tools/tool-registry.js";
import { testEngine } from "../../helpers/engine.js";
import { callContext, everythingServer, FILESYSTEM, isRunning, waitFor } from "../../helpers/mcp-servers.js";

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
    assert.ok(PtcError.is(failure?.error, ErrorCode.ToolError), "the failure keeps a stable code");
    assert.deepEqual(failure?.error.details, { server: "broken", source: "broken" });
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
    assert.equal(
      (structured?.outputSchema as { type?: unknown } | undefined)?.type,
      "object",
      "outputSchema is passed on",
    );
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
