import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { serveOnLoopback } from "../../helpers/server.js";
import { clientTool, KEY_A, testServer, type WireError, type WireState } from "../../helpers/server-executions.js";

const { server, engine } = testServer();
// Sandboxes starting can hold this event loop past the server's keep-alive timeout, which then closes the
// socket fetch is about to reuse (ECONNRESET): start them before the first request.
await engine.warmUp();
const loopback = await serveOnLoopback(server.app.fetch);
after(() => loopback.close());
const { url } = loopback;

type LanguageState = WireState & { language: string };

/** A request to the executions API over real HTTP with key A; the body parsed as JSON. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-api-key": KEY_A },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((error: unknown) => {
    // undici says only "fetch failed": the reason is its cause.
    throw new Error(
      `${method} ${path} ${JSON.stringify(body)}: ${String(error)} (${String((error as { cause?: unknown }).cause)})`,
    );
  });
  return { status: response.status, json: await response.json() };
}

async function create(body: Record<string, unknown>): Promise<LanguageState> {
  const { status, json } = await api("POST", "/v1/executions", { wait: 30, ...body });
  assert.equal(status, 200, JSON.stringify(json));
  return json as LanguageState;
}

describe("the executions API's language", () => {
  test("an unknown language is a 400 invalid_request in the native error shape, and nothing is created", async () => {
    for (const language of ["ruby", "Python", "", 3, null]) {
      const { status, json } = await api("POST", "/v1/executions", { code: "print(1)", language });
      assert.equal(status, 400, JSON.stringify(language));
      const error = json as WireError;
      assert.equal(error.type, "error");
      assert.equal(error.error.type, "invalid_request_error");
      assert.equal(error.error.code, "invalid_request");
      assert.match(error.error.message, /^invalid request: language: /);
      assert.match(error.error.message, /"python"\|"javascript"\|"typescript"|python.*javascript.*typescript/);
    }
  });

  test("Python is the default, and the execution says so", async () => {
    const state = await create({ code: "print(6 * 7)" });
    assert.equal(state.status, "completed");
    assert.equal(state.language, "python");
    assert.equal(state.result?.stdout, "42\n");
    const explicit = await create({ code: "print(1)", language: "python" });
    assert.equal(explicit.language, "python");
  });

  test("a JavaScript execution pauses on a client tool, is described with its language, and resumes", async () => {
    const code = [
      "const doubled = await tools.double({ n: 21 });",
      'const answer = await tools.ask({ q: "who" });',
      'text(answer + " " + doubled.doubled);',
    ].join("\n");
    const paused = await create({ code, language: "javascript", tools: [clientTool("ask")] });
    assert.equal(paused.status, "paused", JSON.stringify(paused));
    assert.equal(paused.language, "javascript");
    const [pending] = paused.pending_tool_calls;
    assert.deepEqual(pending && [pending.name, pending.input], ["ask", { q: "who" }]);
    const got = await api("GET", `/v1/executions/${paused.id}`);
    assert.equal((got.json as LanguageState).language, "javascript");
    const done = await api("POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: pending?.id, value: "everyone" }],
      wait: 30,
    });
    const state = done.json as LanguageState;
    assert.equal(state.status, "completed", JSON.stringify(state));
    assert.equal(state.language, "javascript");
    assert.equal(state.result?.stdout, "everyone 42");
  });

  test("TypeScript runs with its types stripped", async () => {
    const code =
      "const r: { doubled: number } = await tools.double({ n: 4 });\nconsole.log(r.doubled satisfies number);";
    const state = await create({ code, language: "typescript" });
    assert.equal(state.status, "completed", JSON.stringify(state.result));
    assert.equal(state.language, "typescript");
    assert.equal(state.result?.stdout, "8\n");
  });
});
