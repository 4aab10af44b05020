import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import {
  HTTP_TOOL_PROTOCOL,
  parseCallRequest,
  parseCallResponse,
  parseToolList,
  toolServerUrl,
} from "../../../src/sources/http/http-tool-protocol.js";
import { HttpToolSource } from "../../../src/sources/http/http-tool-source.js";
import { listen } from "../../helpers/loopback.js";

const _TOKEN = "test-token-7f3a";

describe("ptc-tools/1 validation", () => {
  const tool = (fields: Record<string, unknown>) => ({
    tools: [{ name: "t", input_schema: { type: "object" }, ...fields }],
  });

  test("bad tool definitions are rejected with the index, name and field", () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /the tool list must be a JSON object, got an array/],
      [{ tools: {} }, /"tools" must be an array, got an object/],
      [{ protocol: "ptc-tools/2", tools: [] }, /the server speaks "ptc-tools\/2"; this client speaks ptc-tools\/1/],
      [{ tools: [42] }, /tools\[0\] must be an object, got a number/],
      [tool({ name: 7 }), /tools\[0\]\.name must be a string/],
      [tool({ name: "get stock" }), /tools\[0\] \("get stock"\): name must match/],
      [tool({ name: "9lives" }), /name must match/],
      [tool({ input_schema: undefined }), /input_schema must be a JSON Schema object with "type": "object"/],
      [tool({ output_schema: "x" }), /output_schema must be a JSON Schema object/],
      [tool({ description: 1 }), /description must be a string, got a number/],
      [tool({ allowed_callers: [] }), /allowed_callers must be a non-empty array of strings/],
      [{ tools: [tool({}).tools[0], tool({}).tools[0]] }, /tools\[1\]: duplicate tool name "t"/],
    ];
    for (const [body, pattern] of cases) assert.throws(() => parseToolList(body), pattern);
  });

  test("a valid list keeps only protocol fields", () => {
    const list = parseToolList({
      protocol: HTTP_TOOL_PROTOCOL,
      tools: [
        { name: "a.b-c", description: "d", input_schema: { type: "object" }, allowed_callers: ["direct"], extra: 1 },
      ],
    });
    assert.deepEqual(list, [
      { name: "a.b-c", description: "d", input_schema: { type: "object" }, allowed_callers: ["direct"] },
    ]);
  });

  test("unknown allowed_callers spellings are rejected at listTools, naming server and tool", async () => {
    const app = new Hono();
    app.get("/tools", (c) => c.json(tool({ allowed_callers: ["robots"] })));
    const source = new HttpToolSource("weird", { url: await listen(app) });
    await assert.rejects(source.listTools(), /tool server "weird" tool "t": Unknown allowedCallers value "robots"/);
  });

  test("call responses and requests", () => {
    assert.deepEqual(parseCallResponse({ content: null }), { content: null });
    assert.deepEqual(parseCallResponse({ error: { code: "x", message: "m" } }), { error: { code: "x", message: "m" } });
    assert.throws(() => parseCallResponse({ content: 1, error: { message: "m" } }), /both "content" and "error"/);
    assert.throws(() => parseCallResponse({ error: "m" }), /"error" must be an object with a string "message"/);
    assert.throws(() => parseCallRequest({ call_id: "", execution_id: "e", input: {} }), /"call_id" must be a string/);
    assert.deepEqual(parseCallRequest({ call_id: "c", execution_id: "e", input: {}, timeout_ms: 5 }), {
      call_id: "c",
      execution_id: "e",
      input: {},
      timeout_ms: 5,
    });
  });

  test("URLs keep the base path and encode the tool name", () => {
    assert.equal(toolServerUrl("http://h:1/api/").href, "http://h:1/api/tools");
    assert.equal(toolServerUrl("http://h:1", "a.b").href, "http://h:1/tools/a.b/call");
    assert.equal(toolServerUrl("http://h:1/v1?k=1", "x").href, "http://h:1/v1/tools/x/call?k=1");
  });
});
