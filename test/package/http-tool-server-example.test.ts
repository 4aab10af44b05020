import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Hono } from "hono";
import { createToolServerApp } from "../../examples/tool-server/server.js";

const TOKEN = "test-token-7f3a";

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
