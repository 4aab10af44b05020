import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createAdmissionController } from "../src/server/admission.js";
import { createServerApp } from "../src/server/http/create-server-app.js";
import { ResourceOwners } from "../src/server/resource-owners.js";
import { delay, testEngine } from "./helpers/engine.js";
import {
  call,
  clientTool,
  execute,
  KEY_A,
  KEY_B,
  testServer,
  type WireError,
  type WireState,
} from "./helpers/server-executions.js";

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
    executions: { containerIdleTimeoutMs: 200 },
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
    owners: new ResourceOwners(),
    apiKeys: [KEY_A],
    executions: { maxContainers: 2 },
    admission: createAdmissionController({ maxRunning: 1, maxQueued: 4 }),
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
