import assert from "node:assert/strict";
import { request } from "node:http";
import { describe, test } from "node:test";
import { createToolServerApp } from "../../../examples/tool-server/server.js";
import { listen } from "../../helpers/loopback.js";

const MAX_BODY = 256;

/** One POST over real HTTP: with a Content-Length, or chunked (no length), as the client chooses. */
function post(url: string, body: string, chunked: boolean): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (!chunked) headers["Content-Length"] = String(Buffer.byteLength(body));
    const req = request(`${url}/tools/get_stock/call`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (chunked) {
      // Two writes before end: Node sends Transfer-Encoding: chunked.
      req.write(body.slice(0, 10));
      req.end(body.slice(10));
    } else req.end(body);
  });
}

describe("example server: the request body limit, by Content-Length and by counting a chunked body", () => {
  const call = (padding: number) =>
    JSON.stringify({ call_id: "c", execution_id: "e", input: { sku: "WID-100", pad: "x".repeat(padding) } });
  const tooLarge = { error: { code: "too_large", message: "request body too large" } };

  test("within the limit, both ways, the tool runs", async () => {
    const url = await listen(createToolServerApp({ maxBodyBytes: MAX_BODY }));
    for (const chunked of [false, true]) {
      const answer = await post(url, call(10), chunked);
      assert.equal(answer.status, 200, `chunked: ${chunked}`);
      assert.deepEqual((answer.body as { content: { sku: string } }).content.sku, "WID-100");
    }
  });

  test("past the limit, both ways, 413 too_large", async () => {
    const url = await listen(createToolServerApp({ maxBodyBytes: MAX_BODY }));
    for (const chunked of [false, true]) {
      const answer = await post(url, call(MAX_BODY), chunked);
      assert.equal(answer.status, 413, `chunked: ${chunked}`);
      assert.deepEqual(answer.body, tooLarge);
    }
  });
});
