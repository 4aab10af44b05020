import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { configuredApiKeys } from "../src/cli/serve-command.js";
import { createAdmissionController } from "../src/server/admission.js";
import { createServerApp, type ServerApp } from "../src/server/http/create-server-app.js";
import { ResourceOwners } from "../src/server/resource-owners.js";
import { codeTool, delay, testEngine } from "./helpers/engine.js";

const KEY_A = "key-a-0123456789";
const KEY_B = "key-b-9876543210";

const serverTools = [codeTool("double", async (input) => ({ doubled: Number(input.n) * 2 }))];
const engine = testEngine({ tools: serverTools });
const server = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A, KEY_B], serverTools });
after(async () => {
  await server.shutdown(0);
  await engine.close();
});

interface WireState {
  id: string;
  status: string;
  container_id: string;
  pending_tool_calls: Array<{ id: string; name: string; input: Record<string, unknown>; caller: { type: string } }>;
  result: null | {
    status: string;
    stdout: string;
    error: null | { code: string; type: string; message: string };
    tool_calls: Array<{ name: string; ok: boolean; resolved_by: string }>;
  };
  submitted?: Array<{ call_id: string; status: string }>;
}

interface WireError {
  type: "error";
  error: { type: string; code: string; message: string };
}

async function call(
  target: ServerApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { "x-api-key": KEY_A },
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await target.app.request(path, init);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers };
}

async function execute(body: Record<string, unknown>, key = KEY_A, target = server): Promise<WireState> {
  const { status, json } = await call(target, "POST", "/v1/executions", body, { "x-api-key": key });
  assert.equal(status, 200, JSON.stringify(json));
  return json as WireState;
}

const clientTool = (name: string) => ({
  name,
  description: `client tool ${name}`,
  input_schema: { type: "object", properties: { q: { type: "string" } } },
});

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

  test("x-api-key and Authorization: Bearer both work; /health needs no key", async () => {
    const viaHeader = await execute({ code: "print('header')" });
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

describe("ptc serve: executions", () => {
  test("a finished execution comes back with its result in snake_case", async () => {
    const state = await execute({ code: "r = await double(n=21)\nprint(r['doubled'])" });
    assert.equal(state.status, "completed");
    assert.equal(state.result?.stdout, "42\n");
    assert.deepEqual(state.pending_tool_calls, []);
    assert.equal(state.result?.tool_calls[0]?.resolved_by, "handler");
    const again = await call(server, "GET", `/v1/executions/${state.id}`);
    assert.equal((again.json as WireState).result?.stdout, "42\n");
  });

  test("two calls from asyncio.gather pause together, then resume; a duplicate submission is idempotent", async () => {
    const code = ["import asyncio", "a, b = await asyncio.gather(lookup(q='x'), lookup(q='y'))", "print(a, b)"].join(
      "\n",
    );
    const paused = await execute({ code, tools: [clientTool("lookup")] });
    assert.equal(paused.status, "paused");
    assert.equal(paused.pending_tool_calls.length, 2);
    const [first, second] = paused.pending_tool_calls;
    assert.ok(first && second);
    assert.deepEqual(paused.pending_tool_calls.map((pending) => pending.input.q).sort(), ["x", "y"]);
    assert.equal(first.caller.type, "code_execution");
    const path = `/v1/executions/${paused.id}/tool_results`;
    const partial = await call(server, "POST", path, {
      results: [{ call_id: first.id, content: `got-${first.input.q}` }],
    });
    assert.equal(partial.status, 200);
    const afterFirst = partial.json as WireState;
    assert.deepEqual(afterFirst.submitted, [{ call_id: first.id, status: "accepted" }]);
    assert.equal(afterFirst.status, "paused");
    assert.deepEqual(
      afterFirst.pending_tool_calls.map((pending) => pending.id),
      [second.id],
    );
    const rest = await call(server, "POST", path, {
      results: [
        { call_id: first.id, content: "ignored" },
        { call_id: second.id, content: `got-${second.input.q}` },
      ],
    });
    const finished = rest.json as WireState;
    assert.deepEqual(finished.submitted, [
      { call_id: first.id, status: "duplicate" },
      { call_id: second.id, status: "accepted" },
    ]);
    assert.equal(finished.status, "completed");
    assert.equal(finished.result?.stdout, "got-x got-y\n");
    const replay = await call(server, "POST", path, { results: [{ call_id: second.id, content: "late" }] });
    assert.equal(replay.status, 200);
    assert.deepEqual((replay.json as WireState).submitted, [{ call_id: second.id, status: "duplicate" }]);
    const unknown = await call(server, "POST", path, { results: [{ call_id: "call_nope", content: 1 }] });
    assert.equal(unknown.status, 400);
    assert.equal((unknown.json as WireError).error.code, "unknown_tool_call");
  });

  test("a submitted error raises ToolError in the script", async () => {
    const code = "try:\n    await lookup(q='x')\nexcept ToolError as e:\n    print('failed:', e.code, e)";
    const paused = await execute({ code, tools: [clientTool("lookup")] });
    const callId = paused.pending_tool_calls[0]?.id;
    const { json } = await call(server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, error: { message: "no such row", code: "not_found" } }],
    });
    assert.match((json as WireState).result?.stdout ?? "", /failed: not_found .*no such row/);
  });

  test("container state persists across executions; another key gets 404 for execution and container", async () => {
    const first = await execute({ code: "counter = 41" });
    assert.equal(first.status, "completed");
    const second = await execute({ code: "counter += 1\nprint(counter)", container: first.container_id });
    assert.equal(second.result?.stdout, "42\n");
    assert.equal(second.container_id, first.container_id);

    const container = await call(server, "GET", `/v1/containers/${first.container_id}`);
    assert.equal(container.status, 200);
    assert.equal((container.json as { id: string }).id, first.container_id);

    const asB = { "x-api-key": KEY_B };
    const otherExecution = await call(server, "GET", `/v1/executions/${first.id}`, undefined, asB);
    const unknownExecution = await call(server, "GET", "/v1/executions/exec_unknown", undefined, asB);
    assert.equal(otherExecution.status, 404);
    assert.deepEqual(otherExecution.json, {
      ...(unknownExecution.json as object),
      error: { ...(unknownExecution.json as WireError).error, message: `execution ${first.id} not found` },
    });
    assert.equal((otherExecution.json as WireError).error.code, "not_found");
    for (const [method, path] of [
      ["GET", `/v1/containers/${first.container_id}`],
      ["DELETE", `/v1/containers/${first.container_id}`],
      ["DELETE", `/v1/executions/${first.id}`],
      ["GET", `/v1/executions/${first.id}/events`],
    ] as const) {
      const response = await call(server, method, path, undefined, asB);
      assert.equal(response.status, 404, `${method} ${path}`);
    }
    const borrow = await call(
      server,
      "POST",
      "/v1/executions",
      { code: "print(counter)", container: first.container_id },
      asB,
    );
    assert.equal(borrow.status, 404);
    assert.equal((borrow.json as WireError).error.code, "not_found");

    const deleted = await call(server, "DELETE", `/v1/containers/${first.container_id}`);
    assert.equal(deleted.status, 200);
    const gone = await call(server, "GET", `/v1/containers/${first.container_id}`);
    assert.equal(gone.status, 404);
  });

  test("DELETE cancels a paused execution", async () => {
    const paused = await execute({ code: "await lookup(q='x')\nprint('never')", tools: [clientTool("lookup")] });
    assert.equal(paused.status, "paused");
    const { status, json } = await call(server, "DELETE", `/v1/executions/${paused.id}`);
    assert.equal(status, 200);
    const state = json as WireState;
    assert.equal(state.status, "cancelled");
    assert.equal(state.result?.error?.code, "cancelled");
    assert.deepEqual(state.pending_tool_calls, []);
  });

  test("a pending call past pending_tool_timeout_ms raises TimeoutError in the script", async () => {
    const code = "try:\n    await lookup(q='x')\nexcept TimeoutError as e:\n    print('timed out')";
    const state = await execute({
      code,
      tools: [clientTool("lookup")],
      limits: { pending_tool_timeout_ms: 300 },
      wait: 0,
    });
    const { json } = await call(server, "GET", `/v1/executions/${state.id}?wait=20`);
    // The first GET may still see it paused: wait for the timeout to land.
    let current = json as WireState;
    for (let i = 0; i < 40 && current.status !== "completed"; i++) {
      await delay(100);
      current = (await call(server, "GET", `/v1/executions/${state.id}`)).json as WireState;
    }
    assert.equal(current.status, "completed");
    assert.equal(current.result?.stdout, "timed out\n");
  });

  test("events stream as SSE: past events replayed in order, ending after done", async () => {
    const paused = await execute({
      code: "print('before')\nr = await lookup(q='x')\nd = await double(n=2)\nprint(r, d['doubled'])",
      tools: [clientTool("lookup")],
    });
    const response = await server.app.request(`/v1/executions/${paused.id}/events`, {
      headers: { "x-api-key": KEY_A },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const callId = paused.pending_tool_calls[0]?.id;
    await call(server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, content: "R" }],
    });
    const text = await response.text();
    const events = text
      .split("\n\n")
      .filter((block) => block.includes("event:"))
      .map((block) => {
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null") as Record<string, unknown>;
        return { type, data };
      });
    assert.deepEqual(
      events.map((event) => event.type),
      [
        "execution-start",
        "stdout",
        "tool-call",
        "execution-paused",
        "tool-result",
        "tool-call",
        "tool-result",
        "stdout",
        "done",
      ],
    );
    assert.equal((events[2]?.data.call as { name: string } | undefined)?.name, "lookup");
    assert.equal(events[2]?.data.pending, true);
    assert.deepEqual(events[3]?.data.pending_call_ids, [callId]);
    // A call with a server handler never pauses the execution.
    assert.equal(events[5]?.data.pending, false);
    assert.equal((events[8]?.data.result as { stdout: string } | undefined)?.stdout, "before\nR 4\n");
  });

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
    const paused = await execute({ code: "await lookup(q='x')", tools: [clientTool("lookup")] });
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

  test("past the running cap and the queue, 429 with Retry-After", async () => {
    const small = createServerApp({
      engine,
      owners: new ResourceOwners(),
      apiKeys: [KEY_A],
      admission: createAdmissionController({ maxRunning: 1, maxQueued: 1 }),
    });
    try {
      const running = await execute({ code: "await lookup()", tools: [clientTool("lookup")] }, KEY_A, small);
      assert.equal(running.status, "paused");
      const queued = await execute({ code: "print('queued ran')", wait: 0 }, KEY_A, small);
      assert.equal(queued.status, "queued");
      const refused = await call(small, "POST", "/v1/executions", { code: "print(1)" });
      assert.equal(refused.status, 429);
      assert.equal((refused.json as WireError).error.type, "rate_limit_error");
      assert.equal((refused.json as WireError).error.code, "overloaded");
      assert.equal(refused.headers.get("retry-after"), "2");
      // Answering the running one frees its slot; the queued one then runs.
      const callId = running.pending_tool_calls[0]?.id;
      await call(small, "POST", `/v1/executions/${running.id}/tool_results`, {
        results: [{ call_id: callId, content: 1 }],
      });
      const ran = await call(small, "GET", `/v1/executions/${queued.id}?wait=30`);
      assert.equal((ran.json as WireState).result?.stdout, "queued ran\n");
    } finally {
      await small.shutdown(0);
    }
  });

  test("graceful shutdown: paused executions may still be answered in the grace period, the rest are cancelled", async () => {
    const closing = createServerApp({ engine, owners: new ResourceOwners(), apiKeys: [KEY_A] });
    const answered = await execute({ code: "print(await lookup())", tools: [clientTool("lookup")] }, KEY_A, closing);
    const abandoned = await execute({ code: "await lookup()", tools: [clientTool("lookup")] }, KEY_A, closing);
    const shutdown = closing.shutdown(1_000);
    const refused = await call(closing, "POST", "/v1/executions", { code: "print(1)" });
    assert.equal(refused.status, 503);
    assert.equal((refused.json as WireError).error.code, "shutting_down");
    assert.equal((await call(closing, "GET", "/health", undefined, {})).status, 503);
    const callId = answered.pending_tool_calls[0]?.id;
    const submitted = await call(closing, "POST", `/v1/executions/${answered.id}/tool_results`, {
      results: [{ call_id: callId, content: "late but fine" }],
    });
    assert.equal((submitted.json as WireState).result?.stdout, "late but fine\n");
    await shutdown;
    const state = await call(closing, "GET", `/v1/executions/${abandoned.id}`);
    assert.equal((state.json as WireState).status, "cancelled");
  });
});

describe("ptc serve: container expiry", () => {
  const idleEngine = testEngine({ pool: { size: 0 }, containerIdleTimeoutMs: 200 });
  const idle = createServerApp({
    engine: idleEngine,
    owners: new ResourceOwners(),
    apiKeys: [KEY_A],
    executions: { containerIdleTimeoutMs: 200 },
  });
  after(async () => {
    await idle.shutdown(0);
    await idleEngine.close();
  });

  test("an expired container answers 410 container_expired; an unknown one 404", async () => {
    const first = await execute({ code: "x = 1" }, KEY_A, idle);
    assert.equal(first.status, "completed");
    let response = await call(idle, "GET", `/v1/containers/${first.container_id}`);
    for (let i = 0; i < 50 && response.status === 200; i++) {
      await delay(100);
      response = await call(idle, "GET", `/v1/containers/${first.container_id}`);
    }
    assert.equal(response.status, 410);
    assert.equal((response.json as WireError).error.code, "container_expired");
    const reuse = await call(idle, "POST", "/v1/executions", { code: "print(x)", container: first.container_id });
    assert.equal(reuse.status, 410);
    assert.equal((reuse.json as WireError).error.code, "container_expired");
    const unknown = await call(idle, "GET", "/v1/containers/ctr_never");
    assert.equal(unknown.status, 404);
  });
});

describe("ptc serve over a real socket", () => {
  test("configured keys come from the config and PTC_API_KEYS", () => {
    assert.deepEqual(configuredApiKeys(["a", " b "], { PTC_API_KEYS: "c, ,a,d" }), ["a", "b", "c", "d"]);
    assert.deepEqual(configuredApiKeys(undefined, {}), []);
  });

  test("health, one execution, and SIGTERM → exit 0", async () => {
    const directory = await mkdtemp(join(tmpdir(), "ptc-serve-"));
    const config = join(directory, "ptc.config.json");
    await writeFile(config, JSON.stringify({ server: { apiKeys: [KEY_A] } }));
    // The CLI from source (bin/ptc.js runs dist/, which may predate this checkout's changes).
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "--eval",
        'const { main } = await import("./src/cli/main.ts"); process.exitCode = await main(process.argv.slice(1));',
        "serve",
        "--config",
        config,
        "--port",
        "0",
      ],
      { env: { ...process.env, PTC_API_KEYS: KEY_B }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          stdout += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(stdout);
          if (match?.[1]) resolve(match[1]);
        });
        child.once("exit", (code) => reject(new Error(`ptc serve exited with ${code}: ${stderr}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, "ok");
      const keyHeaders: Array<Record<string, string>> = [{ "x-api-key": KEY_A }, { authorization: `Bearer ${KEY_B}` }];
      for (const headers of keyHeaders) {
        const response = await fetch(`${url}/v1/executions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ code: "print(6 * 7)" }),
        });
        assert.equal(response.status, 200);
        assert.ok(response.headers.get("request-id")?.startsWith("req_"));
        const state = (await response.json()) as WireState;
        assert.equal(state.result?.stdout, "42\n");
      }
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      const lines = stderr
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const request = lines.find((line) => line.msg === "request" && line.path === "/v1/executions");
      assert.ok(request && typeof request.execution_id === "string" && request.status === 200);
      assert.ok(!stderr.includes(KEY_A) && !stderr.includes(KEY_B), "API keys never reach the logs");
      assert.ok(!stderr.includes("6 * 7"), "code never reaches the logs");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
