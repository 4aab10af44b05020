import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Hono } from "hono";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { HttpToolSource } from "../../../src/sources/http/http-tool-source.js";
import { callContext } from "../../helpers/engine.js";
import { listen } from "../../helpers/loopback.js";

const _TOKEN = "test-token-7f3a";

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
    const firstCall = callContext();
    assert.equal(await source.callTool("flaky", {}, firstCall), "second time lucky");
    assert.deepEqual(keys, [firstCall.callId, firstCall.callId]);
  });

  test("close() cancels calls in flight and later ones", async () => {
    const source = new HttpToolSource("odd", { url: `${url}/odd` });
    const call = source.callTool("slow", {}, callContext());
    setTimeout(() => void source.close(), 100);
    await assert.rejects(
      call,
      (error: unknown) => PtcError.is(error, ErrorCode.Cancelled) && /was closed/.test(error.message),
    );
    await assert.rejects(source.callTool("flaky", {}, callContext()), /tool server "odd" was closed/);
  });

  test("oversized answers become tool_result_too_large, read no further than the call's limit; non-JSON, empty and 5xx ones tool_error", async () => {
    const source = new HttpToolSource("odd", { url: `${url}/odd` });
    const cases: Array<[string, RegExp, ErrorCode, number | undefined]> = [
      ["huge", /sent a response larger than 10485760 bytes/, ErrorCode.ToolResultTooLarge, undefined],
      ["huge", /sent a response larger than 1113536 bytes/, ErrorCode.ToolResultTooLarge, 1_048_000],
      ["text", /answered with a body that is not JSON: OK/, ErrorCode.ToolError, undefined],
      [
        "empty",
        /broke the ptc-tools\/1 protocol: the response has neither "content" nor "error"/,
        ErrorCode.ToolError,
        undefined,
      ],
      ["boom", /tool server "odd" \(tool "boom"\) failed with HTTP 500: database down/, ErrorCode.ToolError, undefined],
    ];
    for (const [name, pattern, code, maxResultBytes] of cases) {
      const context = callContext(maxResultBytes === undefined ? {} : { maxResultBytes });
      await assert.rejects(source.callTool(name, {}, context), (error: unknown) => {
        assert.ok(PtcError.is(error, code), String(error));
        assert.match(error.message, pattern);
        return true;
      });
    }
  });
});
