import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type OpenAI from "openai-v7";
import { testEngine } from "../../helpers/engine.js";
import { assertStatus, INVENTORY_TOOLS, KEY_B, responsesForFile } from "../../helpers/responses-endpoint.js";

const MODEL = "gpt-5.6-sol";
const engine = testEngine({ pool: { size: 1 } });
const { model, endpoint } = await responsesForFile(engine, "anthropic");

type Body = Record<string, unknown>;

/** Sends a body the SDK's types would not let through, and returns the status and OpenAI-shaped error. */
async function postRaw(body: string | Body, key = "sk-ptc-test-key-a") {
  const response = await fetch(`${endpoint.url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = (await response.json()) as {
    error: { message: string; type: string; param: string | null; code: string | null };
  };
  return { status: response.status, error: json.error };
}

async function refused(
  body: Body,
  status: number,
  expected: { message: string | RegExp; param?: string | null; code?: string | null },
) {
  const { status: got, error } = await postRaw(body);
  assert.equal(got, status, JSON.stringify(error));
  assert.equal(error.type, status >= 500 ? "server_error" : "invalid_request_error");
  if (typeof expected.message === "string") assert.equal(error.message, expected.message);
  else assert.match(error.message, expected.message);
  if (expected.param !== undefined) assert.equal(error.param, expected.param);
  if (expected.code !== undefined) assert.equal(error.code, expected.code);
}

const base = { model: MODEL, input: "hello" };

describe("/v1/responses validation: OpenAI's error shape, status and wording", () => {
  test("missing and mistyped parameters name the parameter", async () => {
    await refused({ input: "x" }, 400, {
      message: "Missing required parameter: 'model'.",
      param: "model",
      code: "missing_required_parameter",
    });
    await refused({ model: MODEL }, 400, { message: "Missing required parameter: 'input'.", param: "input" });
    await refused({ ...base, temperature: "hot" }, 400, {
      message: "Invalid type for 'temperature': expected a decimal, but got a string instead.",
      param: "temperature",
      code: "invalid_type",
    });
    await refused({ ...base, top_p: 2 }, 400, { message: /top_p.*above maximum/, code: "decimal_above_max_value" });
    await refused({ ...base, store: "yes" }, 400, { message: /Invalid type for 'store'/, param: "store" });
    await refused({ ...base, max_output_tokens: 3 }, 400, { message: /max_output_tokens/, param: "max_output_tokens" });
    await refused({ ...base, frobnicate: 1 }, 400, {
      message: "Unknown parameter: 'frobnicate'.",
      param: "frobnicate",
      code: "unknown_parameter",
    });
    await refused({ ...base, background: true }, 400, { message: /background mode is not supported/ });
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    await refused({ ...base, metadata }, 400, { message: /too many properties/, code: "object_above_max_properties" });
  });

  test("input items: unknown types, roles and missing fields", async () => {
    await refused({ model: MODEL, input: [{ type: "wat" }] }, 400, {
      message: /^Invalid value: 'wat'\. Supported values are: 'message', 'function_call'/,
      param: "input[0].type",
      code: "invalid_value",
    });
    await refused({ model: MODEL, input: [{ role: "robot", content: "x" }] }, 400, {
      param: "input[0].role",
      message: /robot/,
    });
    await refused({ model: MODEL, input: [{ type: "function_call", name: "f", arguments: "{}" }] }, 400, {
      message: "Missing required parameter: 'input[0].call_id'.",
      param: "input[0].call_id",
    });
    await refused(
      { model: MODEL, input: [{ type: "function_call", call_id: "call_1", name: "f", arguments: "{}" }] },
      400,
      {
        message: "No tool output found for function call call_1.",
      },
    );
  });

  test("tools and tool_choice", async () => {
    const programOnly = INVENTORY_TOOLS.slice(1);
    await refused({ ...base, tools: programOnly }, 400, {
      message:
        "Tool 'getInventory' allows the 'programmatic' caller, which requires the 'programmatic_tool_calling' tool in 'tools'.",
      param: "tools",
    });
    await refused({ ...base, tools: [{ type: "web_search" }] }, 400, {
      message: /supports the tool types/,
      param: "tools[0].type",
    });
    await refused({ ...base, tools: [{ type: "function", parameters: {} }] }, 400, {
      message: "Missing required parameter: 'tools[0].name'.",
    });
    await refused({ ...base, tool_choice: "sometimes" }, 400, {
      message: "Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'.",
      param: "tool_choice",
    });
    await refused({ ...base, tool_choice: { type: "function", name: "nope" } }, 400, {
      message: "Tool choice 'function' not found in 'tools' parameter.",
      param: "tool_choice",
    });
    await refused({ ...base, tool_choice: { type: "programmatic_tool_calling" } }, 400, {
      message: "Tool choice 'programmatic_tool_calling' not found in 'tools' parameter.",
    });
    await refused({ ...base, tools: INVENTORY_TOOLS, tool_choice: { type: "function", name: "getInventory" } }, 400, {
      message: /not callable directly/,
    });
  });

  test("a body that is not JSON, and a wrong key, answer in OpenAI's shape", async () => {
    const notJson = await postRaw("{nope");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.error.type, "invalid_request_error");
    assert.match(notJson.error.message, /not valid JSON/);
    const wrongKey = await postRaw(base, "sk-wrong");
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.error.code, "invalid_api_key");
    await assert.rejects(endpoint.client("sk-wrong").responses.create(base), (error) => {
      assertStatus(error, 401);
      return true;
    });
  });

  test("unknown previous_response_id and item_reference are 404; another key's response too", async () => {
    await refused({ ...base, previous_response_id: "resp_nope" }, 404, {
      // OpenAI's words, then why a kept response may be gone.
      message: /^Previous response with id 'resp_nope' not found\. Only store: true responses are kept, for 30 days/,
      param: "previous_response_id",
      code: "previous_response_not_found",
    });
    await refused({ model: MODEL, input: [{ type: "item_reference", id: "msg_nope" }] }, 404, {
      message: "Item with id 'msg_nope' not found.",
      param: "input[0].id",
    });
    model.setScript([{ text: "Hello there." }]);
    const client = endpoint.client();
    const first: OpenAI.Responses.Response = await client.responses.create({ model: MODEL, input: "hi" });
    assert.equal(first.output_text, "Hello there.");
    const message = first.output[0];
    assert.ok(message?.type === "message");
    for (const request of [
      { model: MODEL, input: "again", previous_response_id: first.id },
      { model: MODEL, input: [{ type: "item_reference" as const, id: message.id }] },
    ]) {
      await assert.rejects(endpoint.client(KEY_B).responses.create(request), (error) => {
        assertStatus(error, 404);
        return true;
      });
    }
  });

  test("a program item whose fingerprint does not match is refused before anything runs", async () => {
    const input = [
      { type: "message", role: "user", content: "check sku_123" },
      { type: "program", id: "cm_1", call_id: "call_p", code: "text('hi')", fingerprint: "ptc1.1.AAAA" },
      {
        type: "function_call",
        call_id: "call_c",
        name: "getInventory",
        arguments: "{}",
        caller: { type: "program", caller_id: "call_p" },
      },
      {
        type: "function_call_output",
        call_id: "call_c",
        output: "{}",
        caller: { type: "program", caller_id: "call_p" },
      },
    ];
    const requests = model.requests.length;
    await refused({ model: MODEL, input, tools: INVENTORY_TOOLS }, 400, {
      message: /fingerprint does not match/,
      code: "program_fingerprint_invalid",
    });
    await refused({ model: MODEL, input, tools: [] }, 400, {
      message: /must include the 'programmatic_tool_calling' tool/,
    });
    assert.equal(model.requests.length, requests, "the upstream was never called");
  });
});
