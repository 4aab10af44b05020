import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createInventoryTools, createToolServerApp, type ServerTool } from "../examples/tool-server/server.js";
import { ErrorCode, PtcError } from "../src/protocol/errors.js";
import type { ToolCallContext } from "../src/protocol/tool.js";
import {
  HTTP_TOOL_PROTOCOL,
  parseCallRequest,
  parseCallResponse,
  parseToolList,
  toolServerUrl,
} from "../src/sources/http/http-tool-protocol.js";
import { HttpToolSource } from "../src/sources/http/http-tool-source.js";
import { openToolSources, type ToolSet } from "../src/sources/tool-set.js";
import { testEngine } from "./helpers/engine.js";

const TOKEN = "test-token-7f3a";
const engine = testEngine();
const servers: Array<{ close(): Promise<void> }> = [];

/** Serves a Hono app on a loopback port: real HTTP, as a client would see it. */
async function listen(app: Hono): Promise<string> {
  return await new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
    servers.push({
      close: () =>
        new Promise<void>((done) => {
          if ("closeAllConnections" in server) server.closeAllConnections();
          server.close(() => done());
        }),
    });
  });
}

/** A loopback address where nothing listens: a server that is down. */
async function deadUrl(): Promise<string> {
  const url = await listen(new Hono());
  await servers.pop()?.close();
  return url;
}

function context(overrides: Partial<ToolCallContext> = {}): ToolCallContext {
  return {
    callId: `call_test_${Math.random().toString(36).slice(2)}`,
    executionId: "exec_test",
    containerId: "container_test",
    caller: "code_execution",
    signal: new AbortController().signal,
    deadline: Date.now() + 5_000,
    ...overrides,
  };
}

// Test-only tools next to the inventory: one echoes what the server received, one hangs until aborted.
let hangAborted: () => void = () => undefined;
const hangAbortSeen = new Promise<void>((resolve) => {
  hangAborted = resolve;
});
const whoami: ServerTool = {
  definition: { name: "whoami", description: "What the server saw of this call.", input_schema: { type: "object" } },
  run: (_input, call) => ({
    call_id: call.callId,
    execution_id: call.executionId,
    idempotency_key: call.idempotencyKey,
  }),
};
const hang: ServerTool = {
  definition: { name: "hang", description: "Never answers.", input_schema: { type: "object" } },
  run: (_input, call) =>
    new Promise((_resolve, reject) => {
      call.signal.addEventListener("abort", () => {
        hangAborted();
        reject(new Error("aborted"));
      });
    }),
};

let baseUrl = "";
let toolSet: ToolSet;
let offlineUrl = "";

before(async () => {
  baseUrl = await listen(createToolServerApp({ token: TOKEN, tools: [...createInventoryTools(), whoami, hang] }));
  offlineUrl = await deadUrl();
  toolSet = await openToolSources([
    new HttpToolSource("inventory", { url: baseUrl, token: TOKEN }),
    new HttpToolSource("offline", { url: offlineUrl }),
  ]);
});

after(async () => {
  await toolSet?.close();
  await engine.close();
  await Promise.all(servers.map((server) => server.close()));
});

describe("HTTP tool source against the example server", () => {
  test("a server that is down is listed in failures, naming it; the other server's tools work", async () => {
    assert.equal(toolSet.failures.length, 1);
    const failure = toolSet.failures[0];
    assert.equal(failure?.source, "offline");
    assert.match(
      failure?.error.message ?? "",
      /tool server "offline" is unreachable at http:\/\/127\.0\.0\.1:\d+\/tools/,
    );
    assert.deepEqual(
      toolSet.tools.map((tool) => tool.name),
      ["get_stock", "quote_price", "reserve_stock", "whoami", "hang"],
    );
    const getStock = toolSet.tools[0];
    assert.deepEqual(getStock?.allowedCallers, ["code_execution"]);
    assert.equal(getStock?.description, "Stock level and list price of one SKU.");
    assert.ok(getStock?.outputSchema);
  });

  test("a script calls the tools, sequentially and with asyncio.gather", async () => {
    const result = await engine.execute({
      tools: toolSet.tools,
      code: [
        "import asyncio",
        'stock = await get_stock(sku="GAD-300")',
        "print(stock['name'], stock['on_hand'])",
        'skus = ["WID-100", "WID-200", "BOL-010"]',
        "levels = await asyncio.gather(*(get_stock(sku=s) for s in skus))",
        "print([level['on_hand'] for level in levels])",
        'quotes = await asyncio.gather(*(quote_price(sku=s, quantity=q) for s, q in [("WID-100", 1000), ("BOL-010", 10)]))',
        "print([(q['discount_percent'], q['total']) for q in quotes])",
      ].join("\n"),
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "Gadget 42\n[1200, 310, 95]\n[(15, 2125), (3, 79.54)]\n");
    assert.equal(result.toolCalls.length, 6);
    assert.ok(result.toolCalls.every((call) => call.ok));
  });

  test("a tool-level error reaches the script as ToolError with the server's message", async () => {
    const result = await engine.execute({
      tools: toolSet.tools,
      code: [
        "try:",
        '    await quote_price(sku="GAD-310", quantity=5)',
        "except ToolError as e:",
        "    print('caught:', e, e.code)",
        "try:",
        '    await get_stock(sku="NOPE-1")',
        "except ToolError as e:",
        "    print('caught:', e)",
      ].join("\n"),
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(
      result.stdout,
      'caught: only 0 of GAD-310 in stock, 5 requested tool_error\ncaught: unknown SKU "NOPE-1"\n',
    );
  });

  test("every call carries Idempotency-Key equal to the call id, and the execution id", async () => {
    const execution = engine.execute({
      tools: toolSet.tools,
      code: "seen = await whoami()\nprint(seen['call_id'], seen['idempotency_key'], seen['execution_id'])",
    });
    const result = await execution.result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    const [callId, key, executionId] = result.stdout.trim().split(" ");
    assert.equal(callId, result.toolCalls[0]?.id);
    assert.equal(key, callId);
    assert.equal(executionId, result.executionId);
  });

  test("a call past the per-tool timeout raises ToolTimeoutError and the server sees the request aborted", async () => {
    const result = await engine.execute({
      tools: toolSet.tools,
      limits: { toolTimeoutMs: 500 },
      code: [
        "try:",
        "    await hang()",
        "except ToolTimeoutError as e:",
        "    print('timeout:', e.code, isinstance(e, TimeoutError))",
      ].join("\n"),
    }).result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.stdout, "timeout: tool_timeout True\n");
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("not aborted"), 5_000);
    });
    assert.equal(await Promise.race([hangAbortSeen.then(() => "aborted"), gaveUp]), "aborted");
    clearTimeout(timer);
  });

  test("the source's own deadline: tool_timeout even without the engine", async () => {
    const source = new HttpToolSource("inventory", { url: baseUrl, token: TOKEN });
    await assert.rejects(source.callTool("hang", {}, context({ deadline: Date.now() + 300 })), (error: unknown) => {
      assert.ok(PtcError.is(error, ErrorCode.ToolTimeout));
      assert.match(error.message, /tool server "inventory" \(tool "hang"\) did not answer within \d+ ms/);
      return true;
    });
  });

  test("a wrong token fails listTools with an error naming the server", async () => {
    const source = new HttpToolSource("inventory", { url: baseUrl, token: "wrong" });
    await assert.rejects(
      source.listTools(),
      /tool server "inventory" refused the credentials \(HTTP 401: .*check toolServers\.inventory\.token/,
    );
    const set = await openToolSources([new HttpToolSource("inventory", { url: baseUrl })]);
    assert.equal(set.tools.length, 0);
    assert.match(set.failures[0]?.error.message ?? "", /tool source inventory: .*no token is configured/);
  });

  test("an unknown tool is tool_not_found", async () => {
    const source = new HttpToolSource("inventory", { url: baseUrl, token: TOKEN });
    await assert.rejects(source.callTool("missing", {}, context()), (error: unknown) => {
      assert.ok(PtcError.is(error, ErrorCode.ToolNotFound));
      assert.match(error.message, /has no tool "missing" \(HTTP 404/);
      return true;
    });
  });

  test("config.allowedCallers applies to tools without allowed_callers", async () => {
    const source = new HttpToolSource("inventory", {
      url: baseUrl,
      token: TOKEN,
      allowedCallers: ["direct", "programmatic"],
    });
    const tools = await source.listTools();
    assert.deepEqual(tools[0]?.allowedCallers, ["direct", "programmatic"]);
    assert.equal(await source.listTools(), tools, "listed once and cached");
  });
});

describe("example server: idempotency and auth (app.request)", () => {
  const call = (app: Hono, key: string | undefined, input: Record<string, unknown>) =>
    app.request("/tools/reserve_stock/call", {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, ...(key ? { "Idempotency-Key": key } : {}) },
      body: JSON.stringify({ call_id: key ?? "c", execution_id: "e", input }),
    });

  test("a repeated idempotency key replays the answer instead of reserving twice", async () => {
    const app = createToolServerApp({ token: TOKEN });
    const first = await (await call(app, "k1", { sku: "GAD-300", quantity: 2 })).json();
    const again = await (await call(app, "k1", { sku: "GAD-300", quantity: 2 })).json();
    const other = await (await call(app, "k2", { sku: "GAD-300", quantity: 2 })).json();
    assert.deepEqual(first, { content: { reservation: "R-00001", sku: "GAD-300", remaining: 40 } });
    assert.deepEqual(again, first);
    assert.deepEqual(other, { content: { reservation: "R-00002", sku: "GAD-300", remaining: 38 } });
  });

  test("no token, or a bad body, is refused with a JSON error", async () => {
    const app = createToolServerApp({ token: TOKEN });
    const anonymous = await app.request("/tools");
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("WWW-Authenticate"), "Bearer");
    const bad = await app.request("/tools/get_stock/call", {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ call_id: "c", execution_id: "e", input: [] }),
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      error: { code: "bad_request", message: '"input" must be a JSON object, got an array' },
    });
  });
});

describe("misbehaving servers", () => {
  let url = "";
  const keys: string[] = [];
  before(async () => {
    const app = new Hono();
    app.get("/html/tools", (c) => c.html("<html><body>Welcome</body></html>"));
    app.get("/bad/tools", (c) => c.json({ tools: [{ name: "ok_tool", input_schema: { type: "string" } }] }));
    let flaky = 0;
    app.post("/odd/tools/:name/call", async (c) => {
      const name = c.req.param("name");
      if (name === "flaky") {
        keys.push(c.req.header("Idempotency-Key") ?? "");
        if (++flaky === 1) return c.json({ error: { message: "restarting" } }, 503);
        return c.json({ content: "second time lucky" });
      }
      if (name === "slow") {
        await new Promise((resolve) => c.req.raw.signal.addEventListener("abort", resolve));
        return c.json({ content: "too late" });
      }
      if (name === "huge") return c.json({ content: "x".repeat(11 * 1024 * 1024) });
      if (name === "text") return c.text("OK");
      if (name === "empty") return c.json({});
      return c.json({ error: { message: "database down" } }, 500);
    });
    url = await listen(app);
  });

  test("non-JSON and invalid tool lists are refused, naming the server and the field", async () => {
    await assert.rejects(
      new HttpToolSource("html", { url: `${url}/html` }).listTools(),
      /tool server "html" answered with a body that is not JSON: <html>/,
    );
    await assert.rejects(
      new HttpToolSource("bad", { url: `${url}/bad/` }).listTools(),
      /tool server "bad" broke the ptc-tools\/1 protocol: tools\[0\] \("ok_tool"\): input_schema must be a JSON Schema object with "type": "object"/,
    );
  });

  test("one retry on 503 with the same idempotency key", async () => {
    const source = new HttpToolSource("odd", { url: `${url}/odd` });
    const ctx = context();
    assert.equal(await source.callTool("flaky", {}, ctx), "second time lucky");
    assert.deepEqual(keys, [ctx.callId, ctx.callId]);
  });

  test("close() cancels calls in flight and later ones", async () => {
    const source = new HttpToolSource("odd", { url: `${url}/odd` });
    const call = source.callTool("slow", {}, context());
    setTimeout(() => void source.close(), 100);
    await assert.rejects(
      call,
      (error: unknown) => PtcError.is(error, ErrorCode.Cancelled) && /was closed/.test(error.message),
    );
    await assert.rejects(source.callTool("flaky", {}, context()), /tool server "odd" was closed/);
  });

  test("oversized, non-JSON, empty and 5xx answers become tool_error", async () => {
    const source = new HttpToolSource("odd", { url: `${url}/odd` });
    const cases: Array<[string, RegExp]> = [
      ["huge", /sent a response larger than 10485760 bytes/],
      ["text", /answered with a body that is not JSON: OK/],
      ["empty", /broke the ptc-tools\/1 protocol: the response has neither "content" nor "error"/],
      ["boom", /tool server "odd" \(tool "boom"\) failed with HTTP 500: database down/],
    ];
    for (const [name, pattern] of cases) {
      await assert.rejects(source.callTool(name, {}, context()), (error: unknown) => {
        assert.ok(PtcError.is(error, ErrorCode.ToolError), String(error));
        assert.match(error.message, pattern);
        return true;
      });
    }
  });
});

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
