import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { callToolDirectly } from "../../src/engine/direct-tool-call.js";
import { PtcError } from "../../src/protocol/errors.js";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { delay } from "../helpers/engine.js";

const hang = (_input: Record<string, unknown>, context: { signal: AbortSignal }) =>
  new Promise((resolve) => context.signal.addEventListener("abort", () => resolve("too late")));

const registry = ToolRegistry.from([
  {
    name: "add",
    inputSchema: { type: "object", properties: { a: { type: "number" } }, required: ["a"] },
    handler: (input) => Number(input.a) + 1,
  },
  { name: "hang", inputSchema: { type: "object" }, handler: hang },
  { name: "ask_human", inputSchema: { type: "object" } },
]);
const options = { callId: "c1", executionId: "e1", timeoutMs: 5_000 };

const failsWith = (code: string) => (error: unknown) => PtcError.is(error) && error.code === code;

describe("direct tool calls (outside the sandbox)", () => {
  test("input is validated with the registry's schema before the handler runs", async () => {
    assert.equal(await callToolDirectly(registry, "add", { a: 1 }, options), 2);
    await assert.rejects(callToolDirectly(registry, "add", { a: "x" }, options), failsWith("invalid_tool_input"));
    await assert.rejects(callToolDirectly(registry, "add", [1], options), failsWith("invalid_tool_input"));
    await assert.rejects(callToolDirectly(registry, "ask_human", {}, options), failsWith("tool_error"));
  });

  test("a hung handler is cut at the per-tool timeout, or when the caller aborts, and sees the abort", async () => {
    await assert.rejects(
      callToolDirectly(registry, "hang", {}, { ...options, timeoutMs: 50 }),
      failsWith("tool_timeout"),
    );
    const caller = new AbortController();
    const call = callToolDirectly(registry, "hang", {}, { ...options, signal: caller.signal });
    await delay(20);
    caller.abort();
    await assert.rejects(call, failsWith("cancelled"));
  });
});
