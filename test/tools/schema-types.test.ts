import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import type { EngineOptions } from "../../src/engine/engine.js";
import { defineTool, type StandardSchema, type ToolCallContext, type ToolDefinition } from "../../src/protocol/tool.js";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { callContext } from "../helpers/engine.js";

// Type-level checks: `npm run typecheck` compiles this file, so each `expectType` and `@ts-expect-error` is a test.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<_Check extends true>(): void {}

const getOrders = defineTool({
  name: "get_orders",
  inputSchema: z.object({ region: z.string(), limit: z.number().int().default(10) }),
  outputSchema: z.array(z.object({ id: z.number(), total: z.number() })),
  allowedCallers: ["code_execution"],
  handler: async (input, context) => {
    // The parsed (output) type of the input schema: `limit` is filled in by its default.
    expectType<Equal<typeof input, { region: string; limit: number }>>();
    expectType<Equal<typeof context, ToolCallContext>>();
    return [{ id: input.limit, total: input.region.length }];
  },
});

defineTool({
  name: "bad_result",
  inputSchema: z.object({}),
  outputSchema: z.object({ id: z.number() }),
  // @ts-expect-error the result must match outputSchema
  handler: () => ({ id: "1" }),
});

// @ts-expect-error the input has no `regoin`
defineTool({ name: "typo", inputSchema: z.object({ region: z.string() }), handler: ({ regoin }) => regoin });

// Without an outputSchema the result is not constrained.
defineTool({ name: "free", inputSchema: z.object({ n: z.number() }), handler: ({ n }) => `${n}` });

// JSON Schema: input is any JSON object, unless the types are named, as before.
defineTool({
  name: "json_default",
  inputSchema: { type: "object", properties: { n: { type: "number" } } },
  handler: (input) => {
    expectType<Equal<typeof input, Record<string, unknown>>>();
    return null;
  },
});
const named = defineTool<{ currency: string }, { rate: number }>({
  name: "json_named",
  inputSchema: { type: "object", properties: { currency: { type: "string" } }, required: ["currency"] },
  handler: ({ currency }) => ({ rate: currency.length }),
});

// A hand-written Standard Schema types the handler the same way.
const query: StandardSchema<{ q: string }, { q: string; page: number }> = {
  "~standard": { version: 1, vendor: "test", validate: (value) => ({ value: { q: String(value), page: 1 } }) },
};
defineTool({
  name: "standard",
  inputSchema: query,
  handler: (input) => {
    expectType<Equal<typeof input, { q: string; page: number }>>();
    return input.page;
  },
});

// Typed definitions still fit the lists the engine and registry take.
const tools: ToolDefinition[] = [getOrders, named];
const options: EngineOptions = { tools: [getOrders, named] };

describe("defineTool types from schemas", () => {
  test("the typed definitions register, and the handler receives the parsed input", async () => {
    assert.equal(options.tools?.length, 2);
    const tool = ToolRegistry.from(tools).get("get_orders");
    assert.deepEqual(await tool?.definition.handler?.({ region: "EMEA" }, callContext()), [{ id: 10, total: 4 }]);
  });
});
