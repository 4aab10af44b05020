import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import ts from "typescript";
import { z } from "zod";
import type { JsonSchema } from "../../src/protocol/json-schema.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createSampleTools, type SampleTools } from "../../src/sample/index.js";
import {
  DEFAULT_TYPESCRIPT_MAX_NODES,
  generateTypeScriptDeclarations,
  type RegisteredTool,
  ToolRegistry,
  type TypeScriptDeclarationOptions,
} from "../../src/tools/index.js";
import { EVERYTHING } from "../helpers/mcp-servers.js";

const CODE = ["programmatic"] as const;

/** Type errors of `declarations` (a global script) with `program` (a module using them), as `line: message`. */
function typeErrors(declarations: string, program = "export {};\n"): string[] {
  const files = new Map([
    ["/declarations.ts", declarations],
    ["/program.ts", program],
  ]);
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    lib: ["lib.es2022.d.ts"],
    types: [],
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (name) => files.has(name) || ts.sys.fileExists(name);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.getSourceFile = (name, version) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile(name, version) : ts.createSourceFile(name, text, version, true);
  };
  const compiled = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(compiled).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const file = d.file?.fileName ?? "";
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    return `${file}:${where === undefined ? "?" : where.line + 1}: ${message}`;
  });
}

function registered(tools: readonly ToolDefinition[]): readonly RegisteredTool[] {
  return ToolRegistry.from(tools, { servesDirectCalls: true }).codeTools();
}

function declare(tools: readonly ToolDefinition[], options?: TypeScriptDeclarationOptions): string {
  return generateTypeScriptDeclarations(registered(tools), options);
}

const INVENTORY: ToolDefinition = {
  name: "getInventory",
  description: "Look up stock for a SKU.",
  allowedCallers: CODE,
  inputSchema: {
    type: "object",
    properties: { sku: { type: "string", description: "The SKU." } },
    required: ["sku"],
    additionalProperties: false,
  },
  outputSchema: {
    type: "object",
    properties: { sku: { type: "string" }, availableUnits: { type: "integer" } },
    required: ["sku", "availableUnits"],
  },
};

interface TreeNode {
  name: string;
  children: TreeNode[];
}
const TREE: z.ZodType<TreeNode> = z.object({
  name: z.string(),
  get children() {
    return z.array(TREE);
  },
});

const ZOD_TOOL: ToolDefinition = {
  name: "plan-trip",
  description: "Plan a trip.",
  allowedCallers: CODE,
  inputSchema: z.object({
    city: z.string().describe("Destination city."),
    when: z.iso.datetime().optional(),
    nights: z.number().int().min(1).default(2),
    pair: z.tuple([z.string(), z.number()]),
    tags: z.tuple([z.string()], z.number()),
    mode: z.enum(["train", "plane"]),
    note: z.string().nullable(),
    extra: z.record(z.string(), z.number()),
    kind: z.union([z.literal(1), z.object({ a: z.string() })]).describe("A union."),
    both: z.intersection(z.object({ a: z.string() }), z.object({ b: z.number() })),
    tree: TREE,
  }),
  outputSchema: z.object({ id: z.string(), legs: z.array(z.object({ from: z.string(), to: z.string() })) }),
};

/** Shapes that stress the mapper; all of them must still produce valid declarations. */
const AWKWARD: Record<string, unknown> = {
  type: "object",
  $defs: {
    node: {
      type: "object",
      description: "A node. It says */ inside.",
      properties: { next: { $ref: "#/$defs/node" }, value: { $ref: "#/$defs/a~1b" } },
    },
    "a/b": { type: "string", title: "Slashed" },
  },
  properties: {
    "first-name": { type: "string", description: "Has a dash.\nSecond line\u2028third \u0000 nul." },
    "0": { type: "boolean" },
    ["__proto__"]: { type: "string" },
    class: { type: "integer", enum: [1, -2, 3.5] },
    self: { $ref: "#" },
    node: { $ref: "#/$defs/node" },
    missing: { $ref: "#/$defs/nowhere" },
    remote: { $ref: "https://example.com/schema.json" },
    mixed: { enum: ["a", 1, null, true, { x: 1 }] },
    constant: { const: "fixed" },
    nullable: { type: "string", nullable: true },
    multi: { type: ["integer", "string", "null"] },
    allOf: {
      allOf: [
        { type: "object", properties: { a: { type: "string" } } },
        { anyOf: [{ type: "number" }, { type: "string" }] },
      ],
    },
    oneOf: { oneOf: [{ type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] } }, { type: "null" }] },
    open: { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "number" } },
    closedEmpty: { type: "object", additionalProperties: false },
    draft7Tuple: {
      type: "array",
      items: [{ type: "string" }, { type: "object" }],
      additionalItems: false,
      minItems: 1,
    },
    junk: { type: 42, properties: [], items: "nope", anyOf: "no" },
    nothing: false,
    anything: true,
    format: { type: "array", items: { type: "string", format: "uri */ evil" } },
    defaulted: { type: "string", default: "x", examples: ["a", "b"] },
  },
  required: ["first-name", "missing", "never-described"],
};

describe("TypeScript declarations", () => {
  let sample: SampleTools;
  let everything: ToolDefinition[] = [];

  before(async () => {
    sample = createSampleTools();
    // server-everything's real tool list, as any MCP client sees it.
    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, "stdio"], stderr: "pipe" }),
    );
    try {
      const { tools } = await client.listTools();
      everything = tools.map((tool) => ({
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        inputSchema: tool.inputSchema as JsonSchema,
        ...(tool.outputSchema === undefined ? {} : { outputSchema: tool.outputSchema as JsonSchema }),
        allowedCallers: CODE,
      }));
    } finally {
      await client.close();
    }
  });

  after(async () => {
    await sample.close();
  });

  it("declares a tool as a method of `tools` with its input and output shapes", () => {
    const text = declare([INVENTORY]);
    assert.match(
      text,
      /\/\*\* Look up stock for a SKU\. \*\/\n {2}getInventory\(args: \{\n {4}\/\*\* The SKU\. \*\/\n {4}sku: string;\n {2}\}\): Promise<\{ sku: string; availableUnits: number \}>;/,
    );
    assert.match(text, /^declare function text\(\.\.\.values: unknown\[\]\): void;$/m);
    assert.match(text, /^declare function image\(/m);
    assert.match(text, /^declare const console: \{$/m);
    assert.match(text, /^declare class ToolError extends Error \{$/m);
    const program = [
      'const stock = await tools.getInventory({ sku: "sku_123" });',
      "const units: number = stock.availableUnits;",
      "try { await tools.getInventory({ sku: 'x' }); } catch (e) { if (e instanceof ToolError) console.warn(e.code, e.message); }",
      'const [a, b] = await Promise.all([tools.getInventory({ sku: "a" }), tools.getInventory({ sku: "b" })]);',
      "text(JSON.stringify({ units, a: a.sku, b: b.availableUnits }), 1, null);",
      "try { await tools.getInventory({ sku: 'x' }); } catch (e) { if (e instanceof ToolTimeoutError) text(e.code, e.tool ?? ''); }",
      'image("https://example.com/chart.png"); image({ url: "data:image/png;base64,AAAA" });',
      "await new Promise((resolve) => setTimeout(resolve, 10));",
      "export {};",
    ].join("\n");
    assert.deepEqual(typeErrors(text, program), []);
    // The types mean something: a wrong argument or a missing one fails to typecheck.
    assert.notDeepEqual(typeErrors(text, "await tools.getInventory({ sku: 1 });\nexport {};\n"), []);
    assert.notDeepEqual(typeErrors(text, "await tools.getInventory({});\nexport {};\n"), []);
    assert.notDeepEqual(typeErrors(text, "await tools.getInventory({ sku: 'a', other: 1 });\nexport {};\n"), []);
  });

  it("typechecks for the sample tools, server-everything's tools and zod schemas", () => {
    assert.ok(everything.length >= 10, `server-everything listed ${everything.length} tools`);
    for (const [label, tools] of [
      ["sample", sample],
      ["everything", everything],
      ["zod", [ZOD_TOOL]],
    ] as const) {
      const text = declare(tools);
      assert.deepEqual(typeErrors(text), [], `${label}:\n${text}`);
      for (const tool of tools)
        assert.ok(
          text.includes(`${/^[A-Za-z_$][\w$]*$/.test(tool.name) ? tool.name : JSON.stringify(tool.name)}(args`),
          tool.name,
        );
    }
    const samplePrograms = [
      'const rows = await tools.query_database({ sql: "SELECT 1" });',
      "const first: unknown = rows[0]?.n;",
      'const info = await tools.get_file_info({ path: "/notes/readme.md" });',
      "const size: number = info.size_bytes;",
      "const logs = await tools.fetch_logs();",
      'const errors = logs.filter((entry) => entry.level === "ERROR").length;',
      "text(String([first, size, errors]));",
      "export {};",
    ].join("\n");
    assert.deepEqual(typeErrors(declare(sample), samplePrograms), []);
    const zodProgram = [
      'const trip = await tools["plan-trip"]({',
      '  city: "Oslo", pair: ["a", 1], tags: ["x", 1, 2], mode: "train", note: null, extra: { a: 1 },',
      '  kind: { a: "b" }, both: { a: "x", b: 2 }, tree: { name: "root", children: [{ name: "leaf", children: [] }] },',
      "});",
      "const legs: { from: string; to: string }[] = trip.legs;",
      "text(trip.id + legs.length);",
      "export {};",
    ].join("\n");
    const zodText = declare([ZOD_TOOL]);
    assert.deepEqual(typeErrors(zodText, zodProgram), []);
    assert.match(zodText, /^type PlanTripArgs\w+ = \{ name: string; children: PlanTripArgs\w+\[\] \};$/m);
    assert.match(zodText, /pair: \[string, number\];/);
    assert.match(zodText, /tags: \[string, \.\.\.number\[\]\];/);
    assert.match(zodText, /when\?: string \/\* date-time \*\/;/);
    assert.match(zodText, /\/\*\* @default 2 \*\/\n {4}nights\?: number;/);
    assert.notDeepEqual(typeErrors(zodText, zodProgram.replace('mode: "train"', 'mode: "car"')), []);
  });

  it("maps awkward schemas to valid declarations instead of throwing", () => {
    // Built by hand: the registry refuses the junk in it (Ajv will not compile `items: "nope"`).
    const text = generateTypeScriptDeclarations([fake("weird.tool-name", AWKWARD, AWKWARD)]);
    assert.deepEqual(typeErrors(text), [], text);
    assert.match(text, /^ {2}"weird\.tool-name"\(args: WeirdToolNameArgsSelf\): Promise<WeirdToolNameResultSelf>;$/m);
    assert.match(text, /^ {2}"first-name": string;$/m);
    assert.match(text, /^ {2}"0"\?: boolean;$/m);
    assert.match(text, /^ {2}class\?: 1 \| -2 \| 3\.5;$/m);
    assert.match(text, /^ {2}missing: unknown;$/m);
    assert.match(text, /^ {2}"never-described": unknown;$/m);
    assert.match(text, /^ {2}mixed\?: unknown;$/m);
    assert.match(text, /^ {2}constant\?: "fixed";$/m);
    assert.match(text, /^ {2}nullable\?: string \| null;$/m);
    assert.match(text, /^ {2}multi\?: number \| string \| null;$/m);
    assert.match(text, /^ {2}allOf\?: \{ a\?: string \} & \(number \| string\);$/m);
    assert.match(text, /^ {2}oneOf\?: Array<string \| number> \| null;$/m);
    assert.match(text, /^ {2}open\?: \{ a\?: string; \[key: string\]: unknown \};$/m);
    assert.match(text, /^ {2}closedEmpty\?: Record<string, never>;$/m);
    assert.match(text, /^ {2}draft7Tuple\?: \[string, Record<string, unknown>\?\];$/m);
    assert.match(text, /^ {2}nothing\?: never;$/m);
    assert.match(text, /^ {2}__proto__\?: string;$/m);
    assert.match(
      text,
      /^type WeirdToolNameArgsNode = \{ next\?: WeirdToolNameArgsNode; value\?: WeirdToolNameArgsSlashed \};$/m,
    );
    assert.match(text, /^type WeirdToolNameArgsSelf = \{$/m);
    assert.match(text, /\* A node\. It says \*\\\/ inside\./);
    // The output schema's aliases get names of their own.
    assert.match(text, /^type WeirdToolNameResultNode = /m);
    const program = [
      'const r = await tools["weird.tool-name"]({ "first-name": "a", missing: 1, "never-described": null, self: { "first-name": "b", missing: 0, "never-described": 0 } });',
      "const n = r.node?.next?.next?.value;",
      'text(n ?? "none");',
      "export {};",
    ].join("\n");
    assert.deepEqual(typeErrors(text, program), []);
  });

  it("declares tools not callable from code nowhere, as the registry leaves them out of scripts", () => {
    const direct: ToolDefinition = { name: "deleteAll", inputSchema: { type: "object" } };
    const tools: ToolDefinition[] = [INVENTORY, direct];
    const all = ToolRegistry.from(tools, { servesDirectCalls: true }).list();
    const text = generateTypeScriptDeclarations(all);
    assert.ok(!text.includes("deleteAll"));
    assert.deepEqual(typeErrors(text), []);
    assert.notDeepEqual(typeErrors(text, "await tools.deleteAll();\nexport {};\n"), []);
    const none = generateTypeScriptDeclarations([]);
    assert.match(none, /declare const tools: Record<string, never>;/);
    assert.deepEqual(typeErrors(none), []);
  });

  it("returns Promise<unknown> without an output schema, or Promise<string> with untypedResult string", () => {
    const untyped: ToolDefinition = {
      name: "echo",
      allowedCallers: CODE,
      inputSchema: { type: "object", properties: { m: { type: "string" } } },
    };
    assert.match(declare([untyped]), /echo\(args\?: \{ m\?: string \}\): Promise<unknown>;/);
    const strings = declare([untyped, INVENTORY], { untypedResult: "string" });
    assert.match(strings, /echo\(args\?: \{ m\?: string \}\): Promise<string>;/);
    assert.match(strings, /Promise<\{ sku: string; availableUnits: number \}>/);
    assert.deepEqual(
      typeErrors(strings, "const s: string = await tools.echo();\ntext(s.toUpperCase());\nexport {};\n"),
      [],
    );
  });

  it("in text mode every tool returns a string, and the JSDoc says what it holds", () => {
    const text = declare([INVENTORY], { resultMode: "text" });
    assert.match(text, /@returns JSON text of \{ sku: string; availableUnits: number \}/);
    assert.match(text, /\}\): Promise<string>;/);
    assert.match(text, /JSON\.parse\(result\)/);
    assert.deepEqual(
      typeErrors(text, 'const s = JSON.parse(await tools.getInventory({ sku: "a" }));\ntext(String(s));\nexport {};\n'),
      [],
    );
  });

  it("leaves out the JSDoc on request, for a prompt that has the descriptions already", () => {
    const text = declare([INVENTORY, ZOD_TOOL], { docs: false, prelude: false });
    assert.doesNotMatch(text, /\/\*\*/);
    assert.match(
      text,
      /^ {2}getInventory\(args: \{ sku: string \}\): Promise<\{ sku: string; availableUnits: number \}>;$/m,
    );
    assert.deepEqual(typeErrors(text), []);
  });

  it("leaves out the prelude on request", () => {
    const text = declare([INVENTORY], { prelude: false });
    assert.ok(text.startsWith("declare const tools: {"), text);
    assert.ok(!text.includes("declare function text"));
    assert.deepEqual(typeErrors(text), []);
  });

  it("bounds depth, node count and cycles: past a bound the rest is unknown", () => {
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 40; i++) deep = { type: "object", properties: { d: deep }, required: ["d"] };
    const huge = { type: "string", enum: Array.from({ length: 50_000 }, (_, i) => `value-${i}`) };
    const cyclic: Record<string, unknown> = { type: "object", required: ["me"] };
    cyclic.properties = { me: cyclic };
    const tools: RegisteredTool[] = [
      fake("deep", { type: "object", properties: { d: deep } }),
      fake("huge", { type: "object", properties: { e: huge } }),
      fake("cyclic", cyclic),
    ];
    const text = generateTypeScriptDeclarations(tools);
    assert.deepEqual(typeErrors(text), []);
    assert.ok(text.length < 20_000, `${text.length} chars`);
    assert.match(text, /e\?: unknown/);
    assert.equal((text.match(/\bd: /g) ?? []).length, 12);
    const small = generateTypeScriptDeclarations(
      [fake("huge", { type: "object", properties: { e: { enum: ["a", "b", "c"] } } })],
      {
        maxNodes: 3,
      },
    );
    assert.match(small, /e\?: unknown/);
    assert.ok(DEFAULT_TYPESCRIPT_MAX_NODES >= 1_000);
  });

  it("is deterministic", () => {
    assert.equal(declare([ZOD_TOOL, INVENTORY, ...everything]), declare([ZOD_TOOL, INVENTORY, ...everything]));
  });
});

/** A registered tool built by hand: the registry would refuse schemas Ajv cannot compile (cycles). */
function fake(
  name: string,
  inputSchema: Record<string, unknown>,
  outputSchema?: Record<string, unknown>,
): RegisteredTool {
  return {
    definition: {
      name,
      inputSchema: inputSchema as JsonSchema,
      ...(outputSchema === undefined ? {} : { outputSchema: outputSchema as JsonSchema }),
    },
    name,
    pythonName: name,
    callers: new Set(["code_execution"]),
    allowedFromCode: true,
    allowedDirect: false,
  };
}
