import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { z } from "zod";
import * as zm from "zod/mini";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { JsonSchema } from "../../src/protocol/json-schema.js";
import { defineTool, type StandardSchema, type ToolDefinition } from "../../src/protocol/tool.js";
import { ToolRegistry } from "../../src/tools/index.js";
import { testEngine } from "../helpers/engine.js";

const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";
const DRAFT_07 = "http://json-schema.org/draft-07/schema#";

const getOrders = defineTool({
  name: "get_orders",
  description: "Orders of one region.",
  inputSchema: z.object({
    region: z.string().describe("Region code"),
    limit: z.number().int().default(10).describe("Most orders returned"),
  }),
  outputSchema: z.array(z.object({ id: z.number().int(), total: z.number(), note: z.string().default("") })),
  allowedCallers: ["code_execution"],
  handler: async ({ region, limit }) => [{ id: limit, total: region.length, note: "" }],
});

function registered(tool: ToolDefinition) {
  const found = ToolRegistry.from([tool]).get(tool.name);
  assert.ok(found, tool.name);
  return found.definition;
}

/** Throws a PtcError `invalid_request` whose message matches. */
function refused(tools: ToolDefinition[], message: RegExp): void {
  assert.throws(
    () => ToolRegistry.from(tools),
    (error: unknown) => PtcError.is(error, ErrorCode.InvalidRequest) && message.test(error.message),
  );
}

/** A hand-written Standard Schema: trims `q`, and converts itself to JSON Schema only for `targets`. */
function handmade(targets: readonly string[] | undefined, asked: string[] = []): StandardSchema<{ q: string }> {
  const json = { type: "object", properties: { q: { type: "string", minLength: 1 } }, required: ["q"] };
  return {
    "~standard": {
      version: 1,
      vendor: "handmade",
      validate(value) {
        const q = (value as { q?: unknown }).q;
        if (typeof q !== "string" || q.trim() === "")
          return { issues: [{ message: "q must not be blank", path: ["q"] }] };
        return { value: { q: q.trim() } };
      },
      ...(targets === undefined
        ? {}
        : {
            jsonSchema: {
              input: ({ target }) => {
                asked.push(target);
                if (!targets.includes(target)) throw new Error(`target ${target} is not supported`);
                return { ...json, $schema: target === "draft-07" ? DRAFT_07 : DRAFT_2020_12 };
              },
              output: () => json,
            },
          }),
    },
  };
}

describe("tool schemas from zod and Standard Schema", () => {
  test("zod input and output schemas become JSON Schema in the registry", () => {
    const definition = registered(getOrders);
    assert.deepEqual(definition.inputSchema, {
      $schema: DRAFT_2020_12,
      type: "object",
      properties: {
        region: { type: "string", description: "Region code" },
        limit: {
          type: "integer",
          default: 10,
          description: "Most orders returned",
          minimum: Number.MIN_SAFE_INTEGER,
          maximum: Number.MAX_SAFE_INTEGER,
        },
      },
      required: ["region"],
    });
    // The output describes what the handler produces: defaults are filled in, so `note` is required.
    const output = definition.outputSchema as JsonSchema;
    assert.equal(output.type, "array");
    assert.deepEqual((output.items as JsonSchema).required, ["id", "total", "note"]);
    assert.equal(registered(getOrders), definition, "one resolved definition per definition object");
  });

  test("a JSON Schema definition is registered as the same object", () => {
    const plain = { name: "plain", inputSchema: { type: "object" }, allowedCallers: ["code_execution" as const] };
    assert.equal(registered(plain), plain);
  });

  test("stubs are typed from the zod schemas", () => {
    const stubs = ToolRegistry.from([getOrders]).pythonStubs();
    assert.match(
      stubs,
      /async def get_orders\(\*, region: str, limit: int \| None = None\) -> list\[GetOrdersResultItem\]:/,
    );
    assert.match(stubs, /class GetOrdersResultItem\(TypedDict\):\n {4}id: int\n {4}total: float\n {4}note: str\n/);
    assert.match(stubs, /limit: Most orders returned Default: 10\./);
  });

  test("zod/mini schemas (no ~standard.jsonSchema) convert with z.toJSONSchema", () => {
    const tool = defineTool({
      name: "mini_lookup",
      inputSchema: zm.object({ sku: zm.string() }),
      allowedCallers: ["code_execution"],
    });
    assert.deepEqual(registered(tool).inputSchema, {
      $schema: DRAFT_2020_12,
      type: "object",
      properties: { sku: { type: "string" } },
      required: ["sku"],
    });
    assert.match(ToolRegistry.from([tool]).pythonStubs(), /async def mini_lookup\(\*, sku: str\) -> Any:/);
  });

  test("a schema that cannot be JSON Schema is refused naming the tool", () => {
    const transformed = defineTool({
      name: "word_count",
      inputSchema: z.object({ text: z.string() }),
      outputSchema: z.string().transform((text) => text.length),
    });
    refused([transformed], /^Tool "word_count": outputSchema could not be converted to JSON Schema: Transforms/);
    const notAnObject: ToolDefinition = { name: "bare", inputSchema: z.string() };
    refused([notAnObject], /^Tool "bare": inputSchema must be a JSON Schema with "type": "object"/);
  });

  test("a Standard Schema converts itself: draft 2020-12 asked first, draft-07 when that is all it has", () => {
    const asked: string[] = [];
    const tool = defineTool({
      name: "search",
      inputSchema: handmade(["draft-07"], asked),
      outputSchema: handmade([]),
      allowedCallers: ["code_execution"],
    });
    const definition = registered(tool);
    assert.deepEqual(asked, ["draft-2020-12", "draft-07"]);
    assert.equal(definition.inputSchema.$schema, DRAFT_07);
    assert.deepEqual(definition.outputSchema?.required, ["q"]);
    assert.match(ToolRegistry.from([tool]).pythonStubs(), /async def search\(\*, q: str\) -> SearchResult:/);
  });

  test("a Standard Schema without a JSON Schema conversion: the error names the tool and what is needed", () => {
    const tool = defineTool({ name: "legacy_lookup", inputSchema: handmade(undefined) });
    refused(
      [tool],
      /^Tool "legacy_lookup": inputSchema is a Standard Schema \(vendor "handmade"\) with no JSON Schema conversion\. ptc needs JSON Schema .*~standard\.jsonSchema.*or JSON Schema itself\.$/,
    );
    const zod3Like = { "~standard": { version: 1 as const, vendor: "zod", validate: () => ({ value: {} }) } };
    refused([{ name: "old_zod", inputSchema: zod3Like }], /zod 3 schemas have none: use zod 4/);
  });
});

describe("calls from code: JSON Schema first, then the schema's own validation", () => {
  const engine = testEngine();
  after(() => engine.close());

  test("bad input fails with invalid_tool_input; the handler receives the parsed value", async () => {
    const seen: unknown[] = [];
    const upper = defineTool({
      name: "region_orders",
      inputSchema: z.object({
        region: z
          .string()
          .trim()
          .refine((region) => region === region.toUpperCase(), "region must be upper case"),
        limit: z.number().int().default(2),
      }),
      outputSchema: z.object({ region: z.string(), limit: z.number() }),
      allowedCallers: ["code_execution"],
      handler: (input) => {
        seen.push(input);
        return { region: input.region, limit: input.limit };
      },
    });
    const search = defineTool({
      name: "search",
      inputSchema: handmade(["draft-2020-12"]),
      allowedCallers: ["code_execution"],
      handler: ({ q }) => `results for ${q}`,
    });
    const code = [
      "async def attempt(call):",
      "    try:",
      "        print(await call)",
      "    except ToolError as error:",
      "        print(error.code, error)",
      "await attempt(region_orders(region=5))",
      'await attempt(region_orders(region="emea"))',
      'await attempt(region_orders(region=" EMEA "))',
      'await attempt(search(q="   "))',
      'await attempt(search(q=" pumps "))',
    ].join("\n");
    const result = await engine.execute({ code, tools: [upper, search] }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.deepEqual(result.stdout.trimEnd().split("\n"), [
      'invalid_tool_input Invalid input for tool "region_orders": region: must be string',
      'invalid_tool_input Invalid input for tool "region_orders": region: region must be upper case',
      "{'region': 'EMEA', 'limit': 2}",
      'invalid_tool_input Invalid input for tool "search": q: q must not be blank',
      "results for pumps",
    ]);
    assert.deepEqual(seen, [{ region: "EMEA", limit: 2 }]);
    // Records keep what the script sent, not the parsed value.
    assert.deepEqual(result.toolCalls[2]?.input, { region: " EMEA " });
  });
});
