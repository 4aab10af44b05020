import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { loadPyodide, type PyodideAPI } from "pyodide";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { generatePythonStubs, ToolRegistry } from "../../src/tools/index.js";
import { toPythonName } from "../../src/tools/python-names.js";

const CODE = ["code_execution_20260120"] as const;

const TOOLS: ToolDefinition[] = [
  {
    name: "query_database",
    description: "Run a read-only SQL query against the sales database.",
    allowedCallers: CODE,
    inputSchema: {
      type: "object",
      properties: {
        sql: { type: "string", description: "The SQL SELECT statement." },
        limit: { type: "integer", description: "Maximum rows.", default: 100 },
      },
      required: ["sql"],
      additionalProperties: false,
    },
    outputSchema: {
      type: "array",
      description: "One object per row.",
      items: {
        type: "object",
        properties: {
          id: { type: "integer" },
          region: { enum: ["emea", "amer", "apac"], description: "Sales region.\nUpper-case in reports." },
          revenue: { type: ["number", "null"] },
        },
        required: ["id", "region"],
      },
    },
  },
  {
    name: "get_repo",
    description: "Fetch a repository.",
    allowedCallers: ["code_execution"],
    inputSchema: {
      type: "object",
      properties: { slug: { type: "string" }, filters: { type: "object", properties: { fork: { type: "boolean" } } } },
      required: ["slug"],
    },
    outputSchema: {
      type: "object",
      properties: {
        name: { type: "string" },
        owner: {
          type: "object",
          properties: { login: { type: "string" }, id: { type: "integer" } },
          required: ["login"],
        },
        topics: { type: "array", items: { type: "string" } },
        license: { anyOf: [{ type: "object", properties: { "spdx-id": { type: "string" } } }, { type: "null" }] },
        labels: { type: "object", additionalProperties: { type: "integer" } },
        extra: { type: "object" },
        ref: { $ref: "#/$defs/ref" },
      },
      required: ["name", "owner"],
    },
  },
  {
    name: "set-status",
    allowedCallers: ["programmatic", "direct"],
    inputSchema: {
      type: "object",
      properties: {
        status: { type: "string", enum: ["open", "closed"] },
        note: { type: ["string", "null"], description: "Why." },
        level: { const: 3 },
      },
      required: ["status"],
    },
    outputSchema: { type: "string" },
  },
  {
    name: "search",
    description:
      'Full-text search. Quote phrases like """exact""" and escape \\ as \\\\; paths look like C:\\new\\table.\r\nNUL: \u0000 end',
    allowedCallers: CODE,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string" },
        class: { type: "string", description: "Document class." },
        "first-name": { type: "string" },
        kwargs: { type: "boolean" },
      },
      required: ["query", "class"],
    },
    outputSchema: { oneOf: [{ type: "array", items: { type: "string" } }, { type: "integer" }] },
  },
  { name: "ping", allowedCallers: CODE, inputSchema: { type: "object" } },
  {
    name: "tag",
    allowedCallers: CODE,
    inputSchema: { type: "object", additionalProperties: { type: "string" } },
    outputSchema: { type: "object" },
  },
  { name: "print", allowedCallers: CODE, inputSchema: { type: "object", properties: { text: { type: "string" } } } },
  // Its Python name is the TypedDict name query_database's rows would get; the TypedDict must yield.
  { name: "QueryDatabaseResultItem", allowedCallers: CODE, inputSchema: { type: "object" } },
  { name: "send_email", inputSchema: { type: "object", properties: { to: { type: "string" } } } },
];

let pyodide: PyodideAPI;

before(async () => {
  pyodide = await loadPyodide();
});

/** Compiles and executes the stub text in a fresh namespace; returns what Python saw, as JSON. */
function inspectStubs(source: string): {
  coroutines: string[];
  signatures: Record<string, Record<string, string>>;
  typedDicts: Record<string, { required: string[]; optional: string[] }>;
  docs: Record<string, string>;
} {
  pyodide.globals.set("stub_source", source);
  const result: unknown = pyodide.runPython(`
import inspect, json, typing
compile(stub_source, "stubs.py", "exec")
ns = {}
exec(stub_source, ns)
out = {"coroutines": [], "signatures": {}, "typedDicts": {}, "docs": {}}
for key, value in ns.items():
    if inspect.iscoroutinefunction(value):
        out["coroutines"].append(key)
        # Evaluating the hints proves every name the annotations use is defined.
        typing.get_type_hints(value)
        out["signatures"][key] = inspect.get_annotations(value, format=inspect.Format.STRING)
        out["docs"][key] = value.__doc__
    elif typing.is_typeddict(value):
        typing.get_type_hints(value)
        out["typedDicts"][key] = {"required": sorted(value.__required_keys__), "optional": sorted(value.__optional_keys__)}
json.dumps(out)
`);
  pyodide.globals.delete("stub_source");
  assert.equal(typeof result, "string");
  return JSON.parse(result as string);
}

describe("generatePythonStubs", () => {
  const registry = ToolRegistry.from(TOOLS);
  const stubs = registry.pythonStubs();
  const textStubs = registry.pythonStubs({ resultMode: "text" });

  it("is deterministic", () => {
    assert.equal(generatePythonStubs(registry.codeTools()), stubs);
    assert.equal(ToolRegistry.from(TOOLS).pythonStubs({ resultMode: "text" }), textStubs);
  });

  it("emits the header, imports and only code tools", () => {
    assert.match(stubs, /^# Tools you can call from Python\./);
    assert.match(stubs, /await some_tool\(\{"query": "\.\.\.", "limit": 10\}\)/);
    assert.match(stubs, /asyncio\.gather/);
    assert.match(stubs, /ToolTimeoutError/);
    assert.match(stubs, /json\.loads\(result\) also works and returns/);
    assert.match(stubs, /^from typing import Any, Literal, NotRequired, TypedDict$/m);
    assert.doesNotMatch(stubs, /send_email/);
    assert.match(textStubs, /Every result arrives as a str, exactly as in Anthropic's hosted code execution/);
  });

  it("types query_database from its input and output schemas", () => {
    assert.ok(
      stubs.includes(`class QueryDatabaseResultItem2(TypedDict):
    id: int
    region: Literal["emea", "amer", "apac"]  # Sales region. Upper-case in reports.
    revenue: NotRequired[float | None]


async def query_database(*, sql: str, limit: int | None = None) -> list[QueryDatabaseResultItem2]:
    """Run a read-only SQL query against the sales database.

    Args:
        sql: The SQL SELECT statement.
        limit: Maximum rows. Default: 100.

    Returns:
        list[QueryDatabaseResultItem2]: One object per row.
        Arrives decoded; json.loads(result) returns it unchanged.
    """
    ...`),
      stubs,
    );
    assert.match(
      textStubs,
      /async def query_database\(\*, sql: str, limit: int \| None = None\) -> str:[\s\S]*?Text mode: JSON text of list\[QueryDatabaseResultItem2\]; decode it with json\.loads\(result\)\./,
    );
  });

  it("gives nested output objects their own TypedDicts", () => {
    assert.match(stubs, /class GetRepoResultOwner\(TypedDict\):\n {4}login: str\n {4}id: NotRequired\[int\]/);
    assert.match(
      stubs,
      /GetRepoResultLicense = TypedDict\("GetRepoResultLicense", \{\n {4}"spdx-id": NotRequired\[str\],\n\}\)/,
    );
    assert.ok(
      stubs.includes(`class GetRepoResult(TypedDict):
    name: str
    owner: GetRepoResultOwner
    topics: NotRequired[list[str]]
    license: NotRequired[GetRepoResultLicense | None]
    labels: NotRequired[dict[str, int]]
    extra: NotRequired[dict]
    ref: NotRequired[Any]`),
    );
    assert.match(stubs, /class GetRepoFilters\(TypedDict\):\n {4}fork: NotRequired\[bool\]/);
    assert.match(
      stubs,
      /async def get_repo\(\*, slug: str, filters: GetRepoFilters \| None = None\) -> GetRepoResult:/,
    );
    // Nested shapes come first: the functional TypedDict form evaluates its field types immediately.
    assert.ok(stubs.indexOf("class GetRepoResultOwner(") < stubs.indexOf("class GetRepoResult("));
  });

  it("maps enums, const, nullable types and dashed names", () => {
    assert.ok(
      stubs.includes(`async def set_status(
    *,
    status: Literal["open", "closed"],
    note: str | None = None,
    level: Literal[3] | None = None,
) -> str:
    """Calls the "set-status" tool.

    Args:
        note: Why.`),
    );
    assert.match(stubs, /note: Why\./);
    assert.match(textStubs, /Text mode: arrives as the string itself\./);
    // A str result is not JSON in either mode: json.loads would not hand it back unchanged.
    const setStatus = stubs.slice(stubs.indexOf("async def set_status("));
    assert.match(setStatus.slice(0, setStatus.indexOf("...")), /str: Arrives as the string itself\./);
  });

  it("falls back to **kwargs for parameter names Python cannot spell", () => {
    assert.match(
      stubs,
      /async def search\(\*, query: str, kwargs: bool \| None = None, \*\*kwargs_: Any\) -> list\[str\] \| int:/,
    );
    assert.match(
      stubs,
      /"class": \(str, required\) Not a valid Python parameter name: pass it in the dict form\. Document class\./,
    );
    assert.match(stubs, /"first-name": \(str\) Not a valid Python parameter name/);
  });

  it("escapes triple quotes, backslashes and control characters in docstrings", () => {
    assert.ok(
      stubs.includes(
        'Quote phrases like \\"\\"\\"exact\\"\\"\\" and escape \\\\ as \\\\\\\\; paths look like C:\\\\new\\\\table.',
      ),
    );
    assert.ok(stubs.includes("NUL: \\u0000 end"));
    assert.doesNotMatch(stubs, /\r|\0/);
  });

  it("handles tools without parameters, open-ended input and shadowing names", () => {
    assert.match(stubs, /async def ping\(\) -> Any:/);
    assert.match(stubs, /async def tag\(\*\*kwargs: Any\) -> dict:/);
    assert.match(stubs, /async def print_\(\*, text: str \| None = None\) -> Any:/);
    assert.match(stubs, /async def QueryDatabaseResultItem\(\) -> Any:/);
  });

  it("compiles and executes as Python, in both result modes", () => {
    for (const source of [stubs, textStubs]) {
      const seen = inspectStubs(source);
      assert.deepEqual(seen.coroutines, [
        "query_database",
        "get_repo",
        "set_status",
        "search",
        "ping",
        "tag",
        "print_",
        "QueryDatabaseResultItem",
      ]);
      assert.deepEqual(seen.typedDicts.QueryDatabaseResultItem2, { required: ["id", "region"], optional: ["revenue"] });
      assert.deepEqual(seen.typedDicts.GetRepoResultLicense, { required: [], optional: ["spdx-id"] });
      assert.match(
        seen.docs.search ?? "",
        /"""exact""" and escape \\ as \\\\; paths look like C:\\new\\table\.\nNUL: \0 end/,
      );
    }
    const seen = inspectStubs(stubs);
    assert.deepEqual(seen.signatures.query_database, {
      sql: "str",
      limit: "int | None",
      return: "list[QueryDatabaseResultItem2]",
    });
    assert.deepEqual(seen.signatures.search, {
      query: "str",
      kwargs: "bool | None",
      kwargs_: "Any",
      return: "list[str] | int",
    });
    assert.deepEqual(inspectStubs(textStubs).signatures.get_repo, {
      slug: "str",
      filters: "GetRepoFilters | None",
      return: "str",
    });
  });

  it("compiles for an empty tool list", () => {
    const empty = generatePythonStubs([]);
    assert.match(empty, /No tools are available to code\./);
    assert.deepEqual(inspectStubs(empty).coroutines, []);
  });

  it("compiles adversarial names, keys and descriptions", () => {
    const hostile = ToolRegistry.from([
      {
        name: "x",
        description: 'ends with a quote"',
        allowedCallers: CODE,
        inputSchema: {
          type: "object",
          // JSON.parse: in an object literal `__proto__: {...}` would set the prototype, not add a key.
          properties: {
            ...JSON.parse('{"__proto__": {"type": "string", "description": "\\"\\"\\"\\"\\"\\""}}'),
            __private: { type: "object", properties: { __x: { type: "string" }, "a\nb": { type: "string" } } },
            "with space": { enum: ['a"b', "c\\d", "\u2028", 1, true, null] },
          },
        },
        outputSchema: {
          type: "object",
          description: "line\r\nbreak \u0085 \u2028 # not a comment end",
          properties: { 'a"b': { type: "string", description: "x\ny\rz" } },
        },
      },
    ]).pythonStubs();
    assert.match(hostile, /__proto__: str \| None = None/);
    assert.match(hostile, /XPrivate = TypedDict\("XPrivate", \{/);
    assert.deepEqual(inspectStubs(hostile).coroutines, ["x"]);
  });

  it("keeps every builtin and keyword of this Python out of tool names", () => {
    const names: unknown = pyodide.runPython(
      "import builtins, json, keyword; json.dumps([n for n in dir(builtins) if not n.startswith('_')] + keyword.kwlist + keyword.softkwlist)",
    );
    const unguarded = (JSON.parse(String(names)) as string[]).filter((name) => toPythonName(name) === name);
    assert.deepEqual(unguarded, []);
  });
});
