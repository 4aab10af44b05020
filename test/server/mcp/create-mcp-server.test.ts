import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ToolDefinition } from "../../../src/protocol/tool.js";
import { codeTool, delay, testEngine } from "../../helpers/engine.js";
import { connectMcpServer, resultText } from "../../helpers/mcp-client.js";

const REGIONS = ["North", "South", "East"];
// Every order row carries this marker: it must never reach the client.
const MARKER = "ROW-PAYLOAD-7f3a";

const baseTools: ToolDefinition[] = [
  codeTool("list_regions", () => REGIONS),
  {
    ...codeTool("get_orders", ({ region }) =>
      Array.from({ length: 50 }, (_, i) => ({ id: i, region, total: 10, note: MARKER })),
    ),
    inputSchema: { type: "object", properties: { region: { type: "string" } }, required: ["region"] },
  },
  codeTool("ask_human"),
  {
    name: "add",
    description: "Adds two numbers.",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
    outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
    allowedCallers: ["direct", "code_execution"],
    handler: ({ a, b }) => ({ sum: Number(a) + Number(b) }),
  },
  { name: "ping", description: "Says pong.", inputSchema: { type: "object" }, handler: () => "pong" },
];

// Enough tools to switch execute_code to the index plus search_tools / describe_tools.
const manyTools: ToolDefinition[] = Array.from({ length: 30 }, (_, i) =>
  i === 17
    ? {
        ...codeTool("weather_forecast", ({ city }) => `sunny in ${String(city)}`),
        description: "Forecast for a city.\nSecond line is not in the index.",
        inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      }
    : { ...codeTool(`service_${i}_status`, () => ({ up: true })), description: `Status of service number ${i}.` },
);

const engine = testEngine({ tools: [...baseTools, ...manyTools], pool: { size: 1 } });
after(() => engine.close());

const connect = (tools: readonly ToolDefinition[]) => connectMcpServer(engine, tools);
const text = resultText;

describe("ptc as an MCP server (in-process)", async () => {
  const client = await connect(baseTools);

  test("lists execute_code with the stubs, and direct tools as plain tools", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    assert.deepEqual(names, ["add", "execute_code", "ping"]);
    const execute = tools.find((tool) => tool.name === "execute_code");
    assert.match(execute?.description ?? "", /async def get_orders\(\*, region: str\)/);
    assert.match(execute?.description ?? "", /async def add\(/);
    assert.deepEqual(execute?.inputSchema.required, ["code"]);
  });

  test("execute_code runs a script over the tools and returns only its output and a summary", async () => {
    const progress: { progress: number; message?: string | undefined }[] = [];
    const code = `regions = await list_regions()
total = 0
for region in regions:
    orders = await get_orders(region=region)
    total += sum(order["total"] for order in orders)
print(f"{len(regions)} regions, total {total}")`;
    const result = await client.callTool({ name: "execute_code", arguments: { code } }, undefined, {
      onprogress: (update) => progress.push(update),
    });
    const output = text(result);
    assert.equal(result.isError, undefined);
    assert.match(output, /^3 regions, total 1500\n/);
    assert.match(
      output,
      /\[ptc\] completed · return code 0 · 4 tool calls · .* tokens \(.*\) of tool results kept out/,
    );
    assert.ok(!output.includes(MARKER), output);
    assert.ok(progress.length >= 1);
    assert.equal(progress.at(-1)?.progress, 4);
    assert.match(progress.at(-1)?.message ?? "", /tool call 4: get_orders/);
    assert.match(progress[0]?.message ?? "", /list_regions/);
  });

  test("direct tools call their handler; code-only tools are not callable directly", async () => {
    const added = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    assert.deepEqual(added.structuredContent, { sum: 5 });
    assert.equal(text(await client.callTool({ name: "ping", arguments: {} })), "pong");
    const invalid = await client.callTool({ name: "add", arguments: { a: "two", b: 3 } });
    assert.equal(invalid.isError, true);
    assert.match(text(invalid), /invalid_tool_input/);
    const refused = await client.callTool({ name: "get_orders", arguments: { region: "North" } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /Unknown tool "get_orders"/);
  });

  test("a tool without a handler fails at once instead of pausing", async () => {
    const code = `try:\n    await ask_human()\nexcept ToolError as error:\n    print("refused:", error)`;
    const output = text(await client.callTool({ name: "execute_code", arguments: { code } }));
    assert.match(output, /^refused: .*ask_human has no handler in `ptc mcp`/);
  });

  test("a failing script is an error result with its traceback", async () => {
    const code = "x = 1\ny = x / 0\n";
    const result = await client.callTool({ name: "execute_code", arguments: { code } });
    assert.equal(result.isError, true);
    const output = text(result);
    assert.match(output, /Traceback/);
    assert.match(output, /line 2/);
    assert.match(output, /\[ptc\] failed · return code 1/);
    assert.match(output, /\[ptc\] error python_error: ZeroDivisionError/);
  });

  test("cancelling the request kills the execution; the next call works", async () => {
    const controller = new AbortController();
    const code = "await list_regions()\nwhile True:\n    pass\n";
    const call = client.callTool({ name: "execute_code", arguments: { code } }, undefined, {
      signal: controller.signal,
      onprogress: () => controller.abort(),
    });
    await assert.rejects(call, /abort/i);
    const deadline = Date.now() + 15_000;
    while (engine.stats().running > 0 && Date.now() < deadline) await delay(50);
    assert.equal(engine.stats().running, 0);
    const next = await client.callTool({ name: "execute_code", arguments: { code: "print(6 * 7)" } });
    assert.match(text(next), /^42\n/);
  });
});

describe("many tools: an index plus search_tools and describe_tools", async () => {
  const client = await connect([...baseTools, ...manyTools]);

  test("execute_code lists names and summaries, not signatures", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of ["execute_code", "search_tools", "describe_tools", "add", "ping"])
      assert.ok(names.includes(name));
    const description = tools.find((tool) => tool.name === "execute_code")?.description ?? "";
    assert.doesNotMatch(description, /async def/);
    assert.match(description, /- weather_forecast: Forecast for a city\.\n/);
    assert.doesNotMatch(description, /Second line/);
    assert.match(description, /search_tools/);
  });

  test("search_tools finds tools by keyword and describe_tools loads their stubs", async () => {
    const found = text(await client.callTool({ name: "search_tools", arguments: { query: "city forecast" } }));
    assert.match(found, /^weather_forecast: Forecast for a city\./);
    assert.doesNotMatch(found, /service_/);
    const described = await client.callTool({
      name: "describe_tools",
      arguments: { names: ["weather_forecast", "service_3_status", "nope"] },
    });
    const stubs = text(described);
    assert.match(stubs, /async def weather_forecast\(\*, city: str\)/);
    assert.match(stubs, /async def service_3_status\(/);
    assert.match(stubs, /Unknown tools \(try search_tools\): nope/);
    const run = await client.callTool({
      name: "execute_code",
      arguments: { code: 'print(await weather_forecast(city="Oslo"))' },
    });
    assert.match(text(run), /^sunny in Oslo\n/);
  });
});
