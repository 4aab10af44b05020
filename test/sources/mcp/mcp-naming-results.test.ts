import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { mcpServerPrefix, nameMcpTools } from "../../../src/sources/mcp/mcp-naming.js";
import { convertMcpResult } from "../../../src/sources/mcp/mcp-results.js";

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
