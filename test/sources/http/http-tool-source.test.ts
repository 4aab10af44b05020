import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createInventoryTools, createToolServerApp, type ServerTool } from "../../../examples/tool-server/server.js";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { HttpToolSource } from "../../../src/sources/http/http-tool-source.js";
import { openToolSources, type ToolSet } from "../../../src/sources/tool-set.js";
import { callContext, testEngine } from "../../helpers/engine.js";
import { deadUrl, listen } from "../../helpers/loopback.js";

const TOKEN = "test-token-7f3a";
const engine = testEngine();

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
    await assert.rejects(source.callTool("hang", {}, callContext({ deadline: Date.now() + 300 })), (error: unknown) => {
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
    await assert.rejects(source.callTool("missing", {}, callContext()), (error: unknown) => {
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
