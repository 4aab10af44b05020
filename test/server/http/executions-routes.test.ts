import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { presentedKey } from "../../../src/server/http/authenticate.js";
import { createServerApp } from "../../../src/server/http/create-server-app.js";
import { ResourceOwners } from "../../../src/server/resource-owners.js";
import {
  call,
  clientTool,
  execute,
  KEY_A,
  KEY_B,
  testServer,
  type WireError,
  type WireState,
} from "../../helpers/server-executions.js";

const { server, engine } = testServer();

describe("ptc serve: authentication", () => {
  test("a missing or wrong key gets an Anthropic-shaped 401", async () => {
    const attempts: Array<Record<string, string>> = [{}, { "x-api-key": "wrong" }, { authorization: "Bearer wrong" }];
    for (const headers of attempts) {
      const { status, json } = await call(server, "POST", "/v1/executions", { code: "print(1)" }, headers);
      assert.equal(status, 401);
      const error = json as WireError;
      assert.equal(error.type, "error");
      assert.equal(error.error.type, "authentication_error");
    }
  });

  test("keys are compared byte for byte: a padded key is another key", async () => {
    const nbsp = "\u00a0";
    const padded: Array<Record<string, string>> = [
      { "x-api-key": `${nbsp}${KEY_A}${nbsp}` },
      { "x-api-key": `${KEY_A}${nbsp}` },
      { authorization: `Bearer  ${KEY_A}` },
      { authorization: `Bearer \t${KEY_A}` },
      { authorization: `Bearer\t${KEY_A}` },
      { authorization: `Bearer ${KEY_A}${nbsp}` },
    ];
    for (const headers of padded) {
      const { status, json } = await call(server, "POST", "/v1/executions", { code: "print(1)" }, headers);
      assert.equal(status, 401, JSON.stringify(headers));
      assert.equal((json as WireError).error.code, "authentication_failed");
    }
    assert.equal(presentedKey(new Headers({ authorization: `Bearer  ${KEY_A}` })), ` ${KEY_A}`);
    assert.equal(presentedKey(new Headers({ "x-api-key": `${nbsp}${KEY_A}` })), `${nbsp}${KEY_A}`);
    // The scheme is case-insensitive (RFC 9110); the key after its one space is taken as it is.
    assert.equal(presentedKey(new Headers({ authorization: `bearer ${KEY_A}` })), KEY_A);
    const exact = await call(
      server,
      "POST",
      "/v1/executions",
      { code: "print(1)" },
      { authorization: `bearer ${KEY_A}` },
    );
    assert.equal(exact.status, 200);
  });

  test("x-api-key and Authorization: Bearer both work; /health needs no key", async () => {
    const viaHeader = await execute(server, { code: "print('header')" });
    assert.equal(viaHeader.result?.stdout, "header\n");
    const { status, json } = await call(
      server,
      "POST",
      "/v1/executions",
      { code: "print('bearer')" },
      {
        authorization: `Bearer ${KEY_B}`,
      },
    );
    assert.equal(status, 200);
    assert.equal((json as WireState).result?.stdout, "bearer\n");
    const health = await call(server, "GET", "/health", undefined, {});
    assert.equal(health.status, 200);
    const report = health.json as { status: string; isolation: string; pool: object; executions: { running: number } };
    assert.equal(report.status, "ok");
    assert.match(report.isolation, /namespaces|permission-model|process/);
    assert.equal(typeof report.executions.running, "number");
  });
});

describe("ptc serve: POST /v1/messages", () => {
  test("is handed the parsed body and the caller's owner; bad JSON gets an Anthropic-shaped 400", async () => {
    const seen: unknown[] = [];
    const withMessages = createServerApp({
      engine,
      owners: new ResourceOwners(),
      apiKeys: [KEY_A],
      messages: async (request) => {
        seen.push(request.body);
        assert.equal(typeof request.owner, "string");
        assert.notEqual(request.owner, KEY_A);
        return Response.json({ type: "message" });
      },
    });
    const ok = await call(withMessages, "POST", "/v1/messages", { model: "m" });
    assert.equal(ok.status, 200);
    assert.deepEqual(seen, [{ model: "m" }]);
    const bad = await call(withMessages, "POST", "/v1/messages", "{oops");
    assert.equal(bad.status, 400);
    assert.equal((bad.json as WireError).type, "error");
    assert.equal((bad.json as WireError).error.type, "invalid_request_error");
    const unauthenticated = await call(withMessages, "POST", "/v1/messages", { model: "m" }, {});
    assert.equal((unauthenticated.json as WireError).error.type, "authentication_error");
  });

  test("without an upstream model it answers 503; oversized bodies get 413", async () => {
    const none = await call(server, "POST", "/v1/messages", { model: "m" });
    assert.equal(none.status, 503);
    assert.match((none.json as WireError).error.message, /no upstream model configured/);
    const tiny = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A], maxBodyBytes: 100 });
    const big = await call(tiny, "POST", "/v1/executions", { code: `print("${"x".repeat(200)}")` });
    assert.equal(big.status, 413);
    assert.equal((big.json as WireError).error.code, "payload_too_large");
  });
});

describe("ptc serve: request validation", () => {
  test("malformed JSON and wrong types get 400 with a stable code, never a stack", async () => {
    const cases: Array<[unknown, RegExp]> = [
      ["{not json", /not valid JSON/],
      ["", /JSON object/],
      [{ code: 42 }, /code/],
      [{ code: "print(1)", wait: "soon" }, /wait/],
      [{ code: "print(1)", extra: true }, /extra/],
      [{ code: "print(1)", limits: { wall_timeout_ms: -1 } }, /wall_timeout_ms/],
      [{ code: "print(1)", limits: { wall_timeout_ms: 10 ** 9 } }, /may not exceed/],
      [{ code: "print(1)", tools: [{ name: "bad name!", input_schema: { type: "object" } }] }, /name/],
      [{ code: "print(1)", result_mode: "xml" }, /result_mode/],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await call(server, "POST", "/v1/executions", body);
      assert.equal(status, 400, JSON.stringify(body));
      const error = (json as WireError).error;
      assert.equal(error.code, "invalid_request");
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n\s+at /);
    }
    const paused = await execute(server, { code: "await lookup(q='x')", tools: [clientTool("lookup")] });
    const bad = await call(server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: paused.pending_tool_calls[0]?.id }],
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as WireError).error.code, "invalid_request");
    await call(server, "DELETE", `/v1/executions/${paused.id}`);
    const unknownContainer = await call(server, "POST", "/v1/executions", { code: "1", container: "ctr_nope" });
    assert.equal(unknownContainer.status, 404);
    assert.equal((unknownContainer.json as WireError).error.code, "not_found");
  });
});
