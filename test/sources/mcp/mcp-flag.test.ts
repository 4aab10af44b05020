import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMcpFlag, splitCommandLine } from "../../../src/sources/mcp/mcp-flag.js";
import { EVERYTHING } from "../../helpers/mcp-servers.js";

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
