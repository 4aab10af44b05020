import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ToolDefinition } from "../../../src/protocol/tool.js";
import { codeTool, testEngine } from "../../helpers/engine.js";
import { connectMcpServer, resultText } from "../../helpers/mcp-client.js";

const lookup: ToolDefinition = {
  ...codeTool("get-inventory", ({ sku }) => ({ sku, availableUnits: String(sku).length })),
  description: "Look up stock for a SKU.",
  inputSchema: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] },
  outputSchema: {
    type: "object",
    properties: { sku: { type: "string" }, availableUnits: { type: "integer" } },
    required: ["sku", "availableUnits"],
  },
};
const manyTools: ToolDefinition[] = Array.from({ length: 25 }, (_, i) => ({
  ...codeTool(`service_${i}_status`, () => ({ up: true })),
  description: `Status of service number ${i}.`,
}));

const engine = testEngine({ tools: [lookup, ...manyTools], pool: { size: 1 } });
after(() => engine.close());

const connect = (tools: readonly ToolDefinition[]) => connectMcpServer(engine, tools);
const text = resultText;

describe("execute_code's language", async () => {
  const client = await connect([lookup]);

  test("takes a language argument and carries Python stubs and TypeScript declarations", async () => {
    const { tools } = await client.listTools();
    const tool = tools.find((candidate) => candidate.name === "execute_code");
    assert.ok(tool);
    assert.deepEqual(tool.inputSchema.properties?.language, {
      type: "string",
      enum: ["python", "javascript", "typescript"],
      default: "python",
      description: "The script's language (TypeScript runs with its types stripped).",
    });
    assert.deepEqual(tool.inputSchema.required, ["code"]);
    const description = tool.description ?? "";
    assert.match(description, /```python\n[^`]*async def get_inventory\(\*, sku: str\) -> GetInventoryResult:/);
    assert.match(
      description,
      /```typescript\ndeclare const tools: \{\n {2}"get-inventory"\(args: \{ sku: string \}\): Promise<\{ sku: string; availableUnits: number \}>;\n\};\n```$/,
    );
    // The declarations' prelude and JSDoc are left out: the introduction and the docstrings say the same.
    assert.doesNotMatch(description, /declare function text/);
    assert.equal(description.split("Look up stock for a SKU.").length, 2);
    assert.match(description, /text\(\.\.\.\) or console\.log\(\) the answer/);
  });

  test("an unknown language is an error result naming the accepted ones", async () => {
    const result = await client.callTool({ name: "execute_code", arguments: { code: "1", language: "ruby" } });
    assert.equal(result.isError, true);
    assert.equal(text(result), "execute_code's `language` must be one of python, javascript, typescript");
  });

  test("Python stays the default", async () => {
    const result = await client.callTool({
      name: "execute_code",
      arguments: { code: 'r = await get_inventory(sku="abc")\nprint(r["availableUnits"])' },
    });
    assert.match(text(result), /^3\n\n\[ptc\] completed · return code 0 · 1 tool call · /);
  });

  for (const [language, code] of [
    ["javascript", 'const r = await tools["get-inventory"]({ sku: "abcd" });\ntext(String(r.availableUnits));'],
    [
      "typescript",
      'const r: { availableUnits: number } = await tools["get-inventory"]({ sku: "abcde" });\nconsole.log(r.availableUnits);',
    ],
  ] as const) {
    test(`runs ${language}`, async () => {
      const result = await client.callTool({ name: "execute_code", arguments: { code, language } });
      assert.notEqual(result.isError, true, text(result));
      assert.match(text(result), /^[45]\n*\n\[ptc\] completed · return code 0 · 1 tool call · /);
    });
  }
});

describe("many tools: describe_tools gives TypeScript declarations on request", async () => {
  const client = await connect([lookup, ...manyTools]);

  test("the index says how, and describe_tools answers in the language asked", async () => {
    const { tools } = await client.listTools();
    const description = tools.find((tool) => tool.name === "execute_code")?.description ?? "";
    assert.match(description, /with language "javascript" it gives TypeScript declarations/);
    const describe = tools.find((tool) => tool.name === "describe_tools");
    assert.deepEqual(describe?.inputSchema.properties?.language, {
      type: "string",
      enum: ["python", "javascript", "typescript"],
      default: "python",
      description: "Signatures for which language",
    });
    const typescript = text(
      await client.callTool({
        name: "describe_tools",
        arguments: { names: ["get_inventory", "service_3_status", "nope"], language: "javascript" },
      }),
    );
    assert.match(typescript, /^\/\/ Unknown tools \(try search_tools\): nope\ndeclare const tools: \{/);
    assert.match(typescript, /"get-inventory"\(args: \{ sku: string \}\)/);
    assert.match(typescript, /service_3_status\(args\?: Record<string, unknown>\): Promise<unknown>;/);
    const python = text(await client.callTool({ name: "describe_tools", arguments: { names: ["get-inventory"] } }));
    assert.match(python, /async def get_inventory\(\*, sku: str\)/);
  });
});
