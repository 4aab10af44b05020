import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createAdmissionController } from "../../../src/server/admission.js";
import { toAnthropicError } from "../../../src/server/anthropic/anthropic-errors.js";
import { CodeExecutionContainers } from "../../../src/server/anthropic/code-execution-session.js";
import { createServerApp } from "../../../src/server/http/create-server-app.js";
import { ownerOf, ResourceOwners } from "../../../src/server/resource-owners.js";
import { delay, testEngine } from "../../helpers/engine.js";
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

const { server } = testServer();

describe("ptc serve: containers", () => {
  test("container state persists across executions; another key gets 404 for execution and container", async () => {
    const first = await execute(server, { code: "counter = 41" });
    assert.equal(first.status, "completed");
    const second = await execute(server, { code: "counter += 1\nprint(counter)", container: first.container_id });
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
});

describe("ptc serve: container expiry", () => {
  const idleEngine = testEngine({ pool: { size: 0 }, containerIdleTimeoutMs: 200 });
  const idle = createServerApp({
    engine: idleEngine,
    owners: new ResourceOwners(),
    apiKeys: [KEY_A],
  });
  after(async () => {
    await idle.shutdown(0);
    await idleEngine.close();
  });

  test("an expired container answers 410 container_expired; an unknown one 404", async () => {
    const first = await execute(idle, { code: "x = 1" });
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

describe("ptc serve: container cap", () => {
  const cappedEngine = testEngine({ pool: { size: 0 } });
  const capped = createServerApp({
    engine: cappedEngine,
    // One key with the whole cap to itself.
    owners: new ResourceOwners({ maxContainers: 2, maxContainersPerKey: 2 }),
    apiKeys: [KEY_A],
    admission: createAdmissionController({ maxRunningExecutions: 1, maxQueuedExecutions: 4 }),
  });
  after(async () => {
    await capped.shutdown(0);
    await cappedEngine.close();
  });
  const status = async (id: string) => (await call(capped, "GET", `/v1/containers/${id}`)).status;

  test("a container counts once its execution starts: queued ones end nothing, a start ends the least recently used idle one", async () => {
    const a = await execute(capped, { code: "a = 1" });
    const b = await execute(capped, { code: "b = 1" });
    // C pauses on a client tool and holds the only slot; starting it needed room: A, the older idle one, ended.
    const c = await execute(capped, { code: "print(await approve(q='c'))", tools: [clientTool("approve")] });
    assert.equal(c.status, "paused");
    assert.equal(await status(a.container_id), 410);
    assert.equal(await status(b.container_id), 200);
    // D is queued behind C in a new container: it holds no sandbox yet, so it ends nothing.
    const d = await execute(capped, { code: "print('d')", wait: 0 });
    assert.equal(d.status, "queued");
    assert.equal(await status(b.container_id), 200);
    const callId = c.pending_tool_calls[0]?.id;
    await call(capped, "POST", `/v1/executions/${c.id}/tool_results`, {
      results: [{ call_id: callId, content: "ok" }],
    });
    const done = await call(capped, "GET", `/v1/executions/${d.id}?wait=30`);
    assert.equal((done.json as WireState).result?.stdout, "d\n");
    // D's start made room: B (least recently used, idle) ended; C and D are live.
    assert.equal(await status(b.container_id), 410);
    assert.equal(await status(c.container_id), 200);
    assert.equal(await status(d.container_id), 200);
  });
});

describe("ptc serve: per-key container quota", () => {
  // 3 live containers on the server, 2 per key; 2 slots per key, so a key's paused executions cannot
  // stop the other key's from starting.
  const quotaEngine = testEngine({ pool: { size: 0 } });
  const owners = new ResourceOwners({ maxContainers: 3, maxContainersPerKey: 2, retryAfterSeconds: 5 });
  const app = createServerApp({
    engine: quotaEngine,
    owners,
    apiKeys: [KEY_A, KEY_B],
    admission: createAdmissionController({ maxRunningExecutions: 4, maxQueuedExecutions: 4 }),
  });
  const messages = new CodeExecutionContainers(quotaEngine, owners);
  after(async () => {
    messages.close();
    await app.shutdown(0);
    await quotaEngine.close();
  });
  const asB = { "x-api-key": KEY_B };
  const status = async (id: string, headers?: Record<string, string>) =>
    (await call(app, "GET", `/v1/containers/${id}`, undefined, headers)).status;
  const refusedWith = (response: { status: number; json: unknown; headers: Headers }, code: string) => {
    assert.equal(response.status, 429, JSON.stringify(response.json));
    assert.equal((response.json as WireError).error.code, code);
    assert.equal((response.json as WireError).error.type, "rate_limit_error");
    assert.equal(response.headers.get("retry-after"), "5");
  };
  const answer = (state: WireState, headers?: Record<string, string>) =>
    call(
      app,
      "POST",
      `/v1/executions/${state.id}/tool_results`,
      { results: [{ call_id: state.pending_tool_calls[0]?.id, content: "ok" }] },
      headers,
    );

  test("a key past its quota ends its own idle containers, never another key's; with none idle, 429 naming the limit", async () => {
    const a = await execute(app, { code: "kept = 'A state'" });
    const b1 = await execute(app, { code: "print(await approve(q='b1'))", tools: [clientTool("approve")] }, KEY_B);
    const b2 = await execute(app, { code: "print(await approve(q='b2'))", tools: [clientTool("approve")] }, KEY_B);
    assert.equal(b1.status, "paused");
    assert.equal(b2.status, "paused");
    // B holds its 2 and both are busy: a third is refused at once, and A's idle container is not touched.
    refusedWith(await call(app, "POST", "/v1/executions", { code: "print(3)" }, asB), "key_container_quota_exceeded");
    // The server holds its 3 and A's only container is idle: A's new container ends A's own.
    const paused = await execute(app, { code: "print(await approve(q='a'))", tools: [clientTool("approve")] });
    assert.equal(paused.status, "paused");
    assert.equal(await status(a.container_id), 410, "A's own least recently used idle container made room");
    // Now A's one is busy too: the server is at its cap and A has nothing idle to end. B's are not ended for it.
    refusedWith(await call(app, "POST", "/v1/executions", { code: "print(4)" }), "container_cap_reached");
    assert.equal(await status(b1.container_id, asB), 200);
    assert.equal(await status(b2.container_id, asB), 200);

    // B's first finishes and idles; B's next container ends it (B's own), and B's second is kept.
    await answer(b1, asB);
    const b3 = await execute(app, { code: "print('b3')" }, KEY_B);
    assert.equal(b3.result?.stdout, "b3\n");
    assert.equal(await status(b1.container_id, asB), 410);
    const gone = await call(app, "GET", `/v1/containers/${b1.container_id}`, undefined, asB);
    assert.match((gone.json as WireError).error.message, /newer containers of this API key/);
    // B has an idle container (b3), A none: A is still refused, and b3 lives on.
    refusedWith(await call(app, "POST", "/v1/executions", { code: "print(5)" }), "container_cap_reached");
    assert.equal(await status(b3.container_id, asB), 200);
    assert.equal(await status(paused.container_id), 200);

    await answer(b2, asB);
    await answer(paused);
    for (const [id, headers] of [
      [b2.container_id, asB],
      [b3.container_id, asB],
      [paused.container_id, undefined],
    ] as const) {
      await call(app, "DELETE", `/v1/containers/${id}`, undefined, headers);
    }
  });

  test("/v1/messages containers count against the same cap and quota, and follow the same rule", async () => {
    const a = await execute(app, { code: "print(await approve(q='a'))", tools: [clientTool("approve")] });
    assert.equal(a.status, "paused");
    const first = await messages.create(ownerOf(KEY_B));
    const second = await messages.create(ownerOf(KEY_B));
    // B holds its quota (2, both idle): a third ends B's least recently used, never A's (busy or not).
    const firstRecord = quotaEngine.containers.registry.get(first.id);
    assert.ok(firstRecord);
    firstRecord.lastUsedAt -= 1_000;
    const third = await messages.create(ownerOf(KEY_B));
    await assert.rejects(
      () => messages.get(first.id, ownerOf(KEY_B)),
      (error: unknown) => /container_expired: .*make room/.test(toAnthropicError(error).message),
    );
    assert.equal(await messages.get(second.id, ownerOf(KEY_B)), second);
    assert.equal(await status(a.container_id), 200);
    // B's two busy: refused with the quota's code in the message, 429 with Retry-After.
    const holds = [messages.hold(second), messages.hold(third)];
    await assert.rejects(
      () => messages.create(ownerOf(KEY_B)),
      (error: unknown) => {
        const reply = toAnthropicError(error);
        return (
          reply.status === 429 &&
          reply.type === "rate_limit_error" &&
          reply.message.startsWith("key_container_quota_exceeded:") &&
          reply.headers["retry-after"] === "5"
        );
      },
    );
    // The server holds 3 (A's paused one and B's two): A, with nothing idle, is refused on either endpoint.
    refusedWith(await call(app, "POST", "/v1/executions", { code: "print(6)" }), "container_cap_reached");
    await assert.rejects(
      () => messages.create(ownerOf(KEY_A)),
      (error: unknown) => toAnthropicError(error).message.startsWith("container_cap_reached:"),
    );
    for (const release of holds) release();
    await answer(a);
    await call(app, "DELETE", `/v1/containers/${a.container_id}`);
  });
});
