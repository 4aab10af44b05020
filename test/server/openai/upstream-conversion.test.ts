import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { programTools } from "../../../src/server/openai/program-tool.js";
import { validateRequest } from "../../../src/server/openai/request-validation.js";
import { upstreamRequest } from "../../../src/server/openai/upstream-conversion.js";
import { INVENTORY_TOOLS } from "../../helpers/responses-endpoint.js";

const caller = { type: "program", caller_id: "call_p" };
const PIXEL = "iVBORw0KGgo=";

function convert(body: Record<string, unknown>, force = true) {
  const request = validateRequest({ model: "m", tools: INVENTORY_TOOLS, ...body });
  return upstreamRequest(request, programTools(request, []), {
    items: request.input,
    ours: new Set(),
    forceToolChoice: force,
  });
}

describe("/v1/responses items as the upstream sees them", () => {
  test("programs are calls of the program tool; their own calls never reach the upstream", () => {
    const upstream = convert({
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "Use programs." },
        {
          role: "user",
          content: [
            { type: "input_text", text: "Stock?" },
            { type: "input_image", image_url: `data:image/png;base64,${PIXEL}` },
          ],
        },
        { type: "reasoning", id: "rs_1", summary: [] },
        { type: "program", id: "cm_1", call_id: "call_p", code: "text('x')", fingerprint: "f" },
        { type: "function_call", call_id: "call_c", name: "getInventory", arguments: '{"sku":"a"}', caller },
        { type: "function_call_output", call_id: "call_c", output: "{}", caller },
        {
          type: "program_output",
          id: "cmo_1",
          call_id: "call_p",
          result: "Program failed: boom",
          status: "incomplete",
        },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "It failed." }] },
        { role: "user", content: "Try again." },
      ],
    });
    assert.equal(upstream.system, "Be brief.\n\nUse programs.");
    assert.deepEqual(upstream.messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "Stock?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL } },
        ],
      },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "call_p", name: "programmatic_tool_calling", input: { code: "text('x')" } }],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "call_p", content: "Program failed: boom", is_error: true }],
      },
      { role: "assistant", content: [{ type: "text", text: "It failed." }] },
      { role: "user", content: [{ type: "text", text: "Try again." }] },
    ]);
    assert.deepEqual(
      upstream.tools?.map((tool) => tool.name),
      ["programmatic_tool_calling"],
    );
  });

  test("a program that never ended, and a direct call, get results the upstream accepts", () => {
    const upstream = convert({
      input: [
        { role: "user", content: "Go." },
        { type: "program", id: "cm_1", call_id: "call_p", code: "x", fingerprint: "f" },
        { role: "user", content: "Never mind." },
      ],
    });
    assert.deepEqual(upstream.messages[2], {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "call_p", content: "The program did not finish.", is_error: true },
        { type: "text", text: "Never mind." },
      ],
    });
  });

  test("tool_choice: forcing choices only on the first upstream call; none always", () => {
    assert.deepEqual(convert({ input: "x", tool_choice: "required" }).tool_choice, { type: "any" });
    assert.equal(convert({ input: "x", tool_choice: "required" }, false).tool_choice, undefined);
    assert.deepEqual(convert({ input: "x", tool_choice: { type: "programmatic_tool_calling" } }).tool_choice, {
      type: "tool",
      name: "programmatic_tool_calling",
    });
    assert.deepEqual(convert({ input: "x", tool_choice: "none" }, false).tool_choice, { type: "none" });
    assert.equal(convert({ input: "x" }).tool_choice, undefined);
    assert.equal(convert({ input: "x", max_output_tokens: 100 }).max_tokens, 100);
  });
});
