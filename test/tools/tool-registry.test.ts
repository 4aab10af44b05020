import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { JsonSchema } from "../../src/protocol/json-schema.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { normalizeCallers } from "../../src/tools/allowed-callers.js";
import { type RegisteredTool, ToolRegistry } from "../../src/tools/index.js";
import { toPythonName } from "../../src/tools/python-names.js";

function invalidRequest(pattern: RegExp): (error: unknown) => boolean {
  return (error) => PtcError.is(error, ErrorCode.InvalidRequest) && pattern.test(error.message);
}

const object = (properties: Record<string, JsonSchema> = {}, extra: Partial<JsonSchema> = {}): JsonSchema => ({
  type: "object",
  properties,
  ...extra,
});

const TOOLS: ToolDefinition[] = [
  {
    name: "query_database",
    description: "Run a read-only SQL query.",
    inputSchema: object(
      { sql: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 1000 } },
      { required: ["sql"], additionalProperties: false },
    ),
    allowedCallers: ["code_execution_20250825"],
  },
  { name: "send_email", inputSchema: object({ to: { type: "string" } }) },
  {
    name: "get_weather",
    inputSchema: object({ city: { type: "string" } }, { required: ["city"] }),
    allowedCallers: ["direct", "programmatic"],
  },
  {
    name: "lookup",
    inputSchema: object({ when: { type: "string", format: "date" } }, { required: ["constructor"] }),
    allowedCallers: ["code_execution"],
  },
];

const names = (tools: readonly RegisteredTool[]) => tools.map((tool) => tool.name);

describe("normalizeCallers", () => {
  it("defaults to direct", () => {
    assert.deepEqual([...normalizeCallers()], ["direct"]);
  });

  it("accepts every spelling of the code-execution caller", () => {
    for (const spelling of [
      "code_execution",
      "code_execution_20250825",
      "code_execution_20260120",
      "code_execution_20260521",
      "programmatic",
    ]) {
      assert.deepEqual([...normalizeCallers([spelling])], ["code_execution"], spelling);
    }
    assert.deepEqual([...normalizeCallers(["direct", "code_execution_20250825", "programmatic"])].sort(), [
      "code_execution",
      "direct",
    ]);
  });

  it("rejects unknown spellings, naming the value", () => {
    for (const bad of ["code-execution", "code_execution_2025", "Direct", "code_execution_20250825x", ""]) {
      assert.throws(() => normalizeCallers([bad]), invalidRequest(new RegExp(JSON.stringify(bad))), bad);
    }
  });

  it("rejects an empty list", () => {
    assert.throws(() => normalizeCallers([]), invalidRequest(/must not be empty/));
  });
});

describe("toPythonName", () => {
  it("maps tool names to readable identifiers", () => {
    assert.equal(toPythonName("query_database"), "query_database");
    assert.equal(toPythonName("get-weather"), "get_weather");
    assert.equal(toPythonName("github.search.issues"), "github_search_issues");
    assert.equal(toPythonName("3d_render"), "_3d_render");
    assert.equal(toPythonName("getWeather"), "getWeather");
  });

  it("appends _ to keywords, soft keywords and names that would shadow globals", () => {
    for (const name of ["class", "import", "None", "match", "type", "_", "print", "json", "asyncio", "ToolError"]) {
      assert.equal(toPythonName(name), `${name}_`);
    }
  });
});

describe("ToolRegistry", () => {
  const registry = ToolRegistry.from(TOOLS);

  it("partitions tools by caller", () => {
    assert.deepEqual(names(registry.list()), ["query_database", "send_email", "get_weather", "lookup"]);
    assert.deepEqual(names(registry.directTools()), ["send_email", "get_weather"]);
    assert.deepEqual(names(registry.codeTools()), ["query_database", "get_weather", "lookup"]);
    const email = registry.get("send_email");
    assert.equal(email?.allowedFromCode, false);
    assert.equal(email?.allowedDirect, true);
    assert.equal(registry.get("get_weather")?.allowedFromCode, true);
    assert.equal(registry.get("nope"), undefined);
  });

  it("lists the tools code cannot call", () => {
    assert.deepEqual(names(registry.notCallableFromCode()), ["send_email"]);
  });

  it("only stubs code tools", () => {
    const stubs = registry.pythonStubs();
    assert.match(stubs, /async def query_database\(/);
    assert.doesNotMatch(stubs, /send_email/);
    assert.equal(registry.pythonStubs(), stubs);
  });

  it("rejects invalid definitions", () => {
    const cases: [unknown[], RegExp][] = [
      [[{ name: "", inputSchema: object() }], /Invalid tool name/],
      [[{ name: "has space", inputSchema: object() }], /Invalid tool name/],
      [[{ name: `a${"b".repeat(128)}`, inputSchema: object() }], /Invalid tool name/],
      [[{ name: "a", inputSchema: { type: "string" } }], /inputSchema must be/],
      [[{ name: "a" }], /inputSchema must be/],
      [[{ name: "a", inputSchema: object({ x: { type: "strng" } }) }], /not a valid JSON Schema/],
      [[{ name: "a", inputSchema: object(), allowedCallers: ["robot"] }], /"robot"/],
      [[{ name: "a", inputSchema: object(), allowedCallers: [] }], /must not be empty/],
      [
        [
          { name: "a", inputSchema: object() },
          { name: "a", inputSchema: object() },
        ],
        /Duplicate tool name "a"/,
      ],
    ];
    for (const [tools, pattern] of cases) {
      assert.throws(() => ToolRegistry.from(tools as ToolDefinition[]), invalidRequest(pattern), String(pattern));
    }
  });

  it("rejects tools whose Python names collide", () => {
    const tools: ToolDefinition[] = [
      { name: "get-weather", inputSchema: object() },
      { name: "get_weather", inputSchema: object() },
    ];
    assert.throws(() => ToolRegistry.from(tools), invalidRequest(/"get-weather" and "get_weather".*get_weather\(\)/));
  });

  it("accepts draft 2020-12, draft-07 and recursive schemas, and repeated $ids", () => {
    const tree = {
      $id: "https://example.com/tree",
      type: "object",
      properties: { children: { type: "array", items: { $ref: "#" } } },
    };
    const registry2 = ToolRegistry.from([
      {
        name: "a",
        inputSchema: { $schema: "https://json-schema.org/draft/2020-12/schema", ...object({ x: { type: "integer" } }) },
        allowedCallers: ["code_execution"],
      },
      { name: "b", inputSchema: { $schema: "http://json-schema.org/draft-04/schema#", ...object() } },
      { name: "tree", inputSchema: tree, allowedCallers: ["code_execution"] },
      { name: "tree2", inputSchema: tree },
    ]);
    assert.equal(registry2.checkCodeCall("a", { x: "1" }).ok, false);
    assert.equal(registry2.checkCodeCall("tree", { children: [{ children: [] }] }).ok, true);
    assert.equal(registry2.checkCodeCall("tree", { children: [{ children: 3 }] }).ok, false);
  });

  it("registries share compiled schemas, yet a later registry's different schema under the same $id is its own", () => {
    const first = { $id: "https://example.com/input", ...object({ n: { type: "integer" } }) };
    const second = { $id: "https://example.com/input", ...object({ n: { type: "string" } }) };
    const one = ToolRegistry.from([{ name: "t", inputSchema: first, allowedCallers: ["code_execution"] }]);
    const two = ToolRegistry.from([{ name: "t", inputSchema: second, allowedCallers: ["code_execution"] }]);
    assert.equal(one.checkCodeCall("t", { n: 1 }).ok, true);
    assert.equal(one.checkCodeCall("t", { n: "1" }).ok, false);
    assert.equal(two.checkCodeCall("t", { n: "1" }).ok, true);
    assert.equal(two.checkCodeCall("t", { n: 1 }).ok, false);
  });
});

describe("ToolRegistry.checkCodeCall", () => {
  const registry = ToolRegistry.from(TOOLS);

  it("accepts valid input and returns the same object", () => {
    const input = { sql: "SELECT 1", limit: 5 };
    const check = registry.checkCodeCall("query_database", input);
    assert.deepEqual(check, { ok: true, input });
    assert.ok(check.ok && check.input === input);
  });

  it("refuses unknown tools as not found and direct-only ones as not callable from code, naming their callers", () => {
    const missing = registry.checkCodeCall("nope", {});
    const direct = registry.checkCodeCall("send_email", { to: "a@b.c" });
    assert.deepEqual(missing, { ok: false, code: "tool_not_found", message: 'Tool "nope" is not available' });
    assert.deepEqual(direct, {
      ok: false,
      code: "tool_not_allowed",
      message: 'Tool "send_email" is not callable from code: allowed_callers is ["direct"]',
    });
    assert.ok(!("message" in missing && /send_email/.test(missing.message)));
  });

  it("rejects input that is not a plain object", () => {
    for (const [input, kind] of [
      [null, "null"],
      [[1], "array"],
      ["sql", "string"],
      [3, "number"],
      [new Date(0), "non-plain object"],
    ] as const) {
      const check = registry.checkCodeCall("query_database", input);
      assert.equal(check.ok, false);
      assert.ok(!check.ok && check.code === "invalid_tool_input");
      assert.match(check.ok ? "" : check.message, new RegExp(`arguments must be an object, got ${kind}`));
    }
  });

  it("names the first schema error as path: message, and stops there", () => {
    // One error, not all of them: with allErrors, an input with 700,000 extra keys cost ~1.2 s per call.
    const check = registry.checkCodeCall("query_database", { sql: 1, limit: 0, extra: true });
    assert.ok(!check.ok);
    assert.equal(check.code, "invalid_tool_input");
    assert.match(check.message, /^Invalid input for tool "query_database": /);
    assert.equal(check.message.split(";").length, 1, check.message);
    assert.match(
      check.message,
      /(arguments: must NOT have additional properties \("extra"\)|sql: must be string|limit: must be >= 1)$/,
    );
    const typed = registry.checkCodeCall("query_database", { sql: 1 });
    assert.ok(!typed.ok);
    assert.match(typed.message, /sql: must be string$/);
    const bounded = registry.checkCodeCall("query_database", { sql: "select 1", limit: 0 });
    assert.ok(!bounded.ok);
    assert.match(bounded.message, /limit: must be >= 1$/);
  });

  it("reports missing required properties", () => {
    const check = registry.checkCodeCall("query_database", {});
    assert.deepEqual(check, {
      ok: false,
      code: "invalid_tool_input",
      message: `Invalid input for tool "query_database": arguments: must have required property 'sql'`,
    });
  });

  it("checks formats and does not let Object.prototype satisfy `required`", () => {
    const bad = registry.checkCodeCall("lookup", { when: "yesterday", constructor: 1 });
    assert.ok(!bad.ok);
    assert.match(bad.message, /when: must match format "date"/);
    const inherited = registry.checkCodeCall("lookup", { when: "2026-01-01" });
    assert.ok(!inherited.ok);
    assert.match(inherited.message, /must have required property 'constructor'/);
    assert.ok(registry.checkCodeCall("lookup", JSON.parse('{"constructor": {}}')).ok);
  });

  it("treats __proto__ from JSON.parse as an ordinary key and pollutes nothing", () => {
    const input: unknown = JSON.parse('{"sql": "SELECT 1", "__proto__": {"polluted": true}}');
    const strict = registry.checkCodeCall("query_database", input);
    assert.ok(!strict.ok);
    assert.match(strict.message, /must NOT have additional properties \("__proto__"\)/);

    const loose = registry.checkCodeCall("get_weather", JSON.parse('{"city": "Oslo", "__proto__": {"polluted": 1}}'));
    assert.ok(loose.ok);
    assert.ok(Object.hasOwn(loose.input, "__proto__"));
    assert.equal(Object.getPrototypeOf(loose.input), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);

    const sneaky = registry.checkCodeCall("get_weather", JSON.parse('{"__proto__": {"city": "Oslo"}}'));
    assert.ok(!sneaky.ok);
    assert.match(sneaky.message, /required property 'city'/);
  });

  it("finds rounded integers, non-finite numbers and deep nesting in the text of short and long inputs alike", () => {
    // get_weather: callable from code, any properties beside the city.
    const send = (json: string) => {
      const text = `{"city": "Oslo", ${json.slice(1)}`;
      return registry.checkCodeCall("get_weather", JSON.parse(text), text);
    };
    const refused = (json: string, pattern: RegExp) => {
      const check = send(json);
      assert.ok(!check.ok && check.code === ErrorCode.InvalidToolInput && pattern.test(check.message), json);
    };
    const padding = "x".repeat(300);
    for (const pad of ["", `, "pad": "${padding}"`]) {
      refused(`{"n": 9007199254740993${pad}}`, /n: integer 9007199254740993 is outside/);
      refused(`{"n": [-18446744073709551616]${pad}}`, /n\[0\]: integer -18446744073709551616 is outside/);
      refused(`{"n": 1e400${pad}}`, /n: number out of range/);
      refused(`{"n": -2.5E+999${pad}}`, /n: number out of range/);
      // Exact as doubles, or not numbers at all: passed.
      for (const ok of [
        `{"n": 9007199254740991${pad}}`,
        `{"n": 1e20, "f": 6.02e23${pad}}`,
        `{"s": "18446744073709551616 1e400"${pad}}`,
      ]) {
        assert.equal(send(ok).ok, true, ok);
      }
    }
    // The shortest text nesting past the limit (129 levels) is 258 characters; one level less passes.
    refused(`{"a":${"[".repeat(128)}${"]".repeat(128)}}`, /nested deeper than 128 levels/);
    assert.equal(send(`{"a":${"[".repeat(127)}${"]".repeat(127)}}`).ok, true);
  });
});

describe("ToolRegistry.from: a warning for tools with a handler that code cannot call", () => {
  /** The process warnings `from` emits (they are emitted on the next tick). */
  async function warningsOf(build: () => void): Promise<Error[]> {
    const seen: Error[] = [];
    const listen = (warning: Error) => seen.push(warning);
    process.on("warning", listen);
    try {
      build();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", listen);
    }
    return seen.filter((warning) => (warning as Error & { code?: string }).code === "PTC_TOOLS_NOT_CALLABLE_FROM_CODE");
  }
  const handler = () => "ok";

  it("names them once per definition, as PtcWarning PTC_TOOLS_NOT_CALLABLE_FROM_CODE; tools without a handler or callable from code are not named", async () => {
    const lookupUser = { name: "lookup_user", inputSchema: object(), handler };
    const sendEmail = { name: "send_email", inputSchema: object(), allowedCallers: ["direct" as const], handler };
    const both = {
      name: "both",
      inputSchema: object(),
      allowedCallers: ["direct" as const, "code_execution" as const],
      handler,
    };
    const noHandler = { name: "ask_human", inputSchema: object() };
    const tools = [lookupUser, both, noHandler, sendEmail];
    const first = await warningsOf(() => ToolRegistry.from(tools));
    assert.equal(first.length, 1);
    assert.equal(first[0]?.name, "PtcWarning");
    assert.match(
      first[0]?.message ?? "",
      /^2 tools have a handler but are not callable from code: lookup_user, send_email\. /,
    );
    assert.match(first[0]?.message ?? "", /allowedCallers defaults to \["direct"\]/);
    assert.match(first[0]?.message ?? "", /Add "code_execution" to their allowedCallers/);
    assert.doesNotMatch(first[0]?.message ?? "", /both|ask_human/);
    // An engine builds a registry per tool list: the same definitions are not reported again.
    assert.deepEqual(await warningsOf(() => ToolRegistry.from([sendEmail, lookupUser])), []);
    const another = { ...lookupUser };
    const again = await warningsOf(() => ToolRegistry.from([another]));
    assert.match(again[0]?.message ?? "", /^1 tool has a handler but is not callable from code: lookup_user\. /);
  });

  it("stays silent for callers that serve direct calls themselves (an agent, an MCP server), then and later", async () => {
    const direct = { name: "delete_row", inputSchema: object(), handler };
    assert.deepEqual(await warningsOf(() => ToolRegistry.from([direct], { servesDirectCalls: true })), []);
    assert.deepEqual(await warningsOf(() => ToolRegistry.from([direct])), []);
    assert.deepEqual(await warningsOf(() => ToolRegistry.from(TOOLS.filter((tool) => tool.handler === undefined))), []);
  });
});
