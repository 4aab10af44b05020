import assert from "node:assert/strict";
import { test } from "node:test";
import type { ToolDefinition } from "../../../src/protocol/tool.js";
import { createMcpServerFactory } from "../../../src/server/mcp/create-mcp-server.js";
import { ToolRegistry } from "../../../src/tools/tool-registry.js";
import { testEngine } from "../../helpers/engine.js";

test("an MCP server serves direct-only tools as plain MCP tools: no not-callable-from-code warning for them", async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => warnings.push(String(warning.code));
  process.on("warning", onWarning);
  const directOnly: ToolDefinition = {
    name: "lookup_user_for_mcp",
    inputSchema: { type: "object" },
    handler: () => "ada",
  };
  const engine = testEngine({ pool: { size: 0 } });
  try {
    createMcpServerFactory({ engine, tools: [directOnly] });
    // Where nobody serves direct calls, the same kind of tool is warned about (the control).
    ToolRegistry.from([{ ...directOnly, name: "lookup_user_unserved" }]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, ["PTC_TOOLS_NOT_CALLABLE_FROM_CODE"]);
  } finally {
    process.off("warning", onWarning);
    await engine.close();
  }
});
