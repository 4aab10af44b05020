import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  apiGet,
  type BurstResult,
  health,
  LOAD_KEY,
  type MemorySample,
  runBurst,
  type ServeProcess,
  settledMemory,
  startServe,
  summarizeBurst,
} from "../../bench/load-run.js";
import { expectedStdout } from "../../bench/load-tools.js";
import { delay } from "../helpers/engine.js";
import { assertNoHostLeak, assertNoSecret, isAlive } from "./harness.js";

/**
 * The load case against the real CLI (`ptc serve` as a child process, real sandboxes, real sockets):
 * 200 executions at once. The caps are lowered through the config (2 running, 3 queued) so each
 * burst needs only a handful of cold sandbox starts; `npm run bench:load` runs the defaults.
 *
 * Protections exercised (src/server/admission.ts): the running cap (`tryAcquire`: a slot only while
 * `running < maxRunningExecutions`) and the bounded queue (`acquire`: 429 `overloaded` + Retry-After once
 * `queue.length >= maxQueuedExecutions`). Without either, /health reports more running or queued than the caps
 * and the "caps hold" assertions fail.
 */
const CAPS = { maxRunningExecutions: 2, maxQueuedExecutions: 3 };
const CLIENTS = 200;
/** Of each burst, these clients retry a 429 after its Retry-After until done. */
const RETRYING = 2;

let server: ServeProcess;
let finishedSoFar = 0;
const settled: MemorySample[] = [];

before(async () => {
  server = await startServe(CAPS);
});
after(async () => {
  if (server.child.exitCode === null) await server.stop();
});

/** What every burst must show, whatever the timing: caps held, clean refusals, right answers, records. */
async function assertBurst(result: BurstResult): Promise<void> {
  assert.deepEqual(result.others, [], "every answer is a finished execution or a 429: no 5xx, no other status");
  const refused = result.rejections.filter((each) => !each.retried);
  assert.equal(result.finished.length + refused.length, CLIENTS, "every client finished or was refused");
  assert.ok(refused.length > 0, "past the running cap and the queue, requests are refused");
  // The first running + queued arrivals always fit; more only if executions finished during the burst.
  assert.ok(result.finished.length >= CAPS.maxRunningExecutions + CAPS.maxQueuedExecutions);

  for (const each of result.finished) {
    assert.equal(each.status, "completed", `execution ${each.index}: ${each.stdout}`);
    assert.equal(each.stdout, expectedStdout(each.index), `execution ${each.index} computed its own input`);
  }
  const retried = result.finished.filter((each) => each.retrying);
  assert.equal(retried.length, RETRYING, "clients that honour Retry-After all get their execution done");

  for (const rejection of result.rejections) {
    assert.equal(rejection.status, 429);
    assert.match(rejection.retryAfter ?? "", /^[1-9]\d*$/, "Retry-After is a positive number of seconds");
    const body = rejection.body as { type: string; error: { type: string; code: string; message: string } };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "rate_limit_error");
    assert.equal(body.error.code, "overloaded");
    assert.ok(body.error.message.length > 0);
    assertNoHostLeak(JSON.stringify(body));
  }

  // /health answered throughout, and never saw more running or queued than the caps.
  assert.equal(result.health.failed, 0, "/health answered every sample during the burst");
  assert.ok(result.health.answered > 0);
  assert.deepEqual(result.caps, { maxRunning: CAPS.maxRunningExecutions, maxQueued: CAPS.maxQueuedExecutions });
  assert.ok(result.health.maxRunning <= CAPS.maxRunningExecutions, `running peaked at ${result.health.maxRunning}`);
  assert.ok(result.health.maxQueued <= CAPS.maxQueuedExecutions, `queued peaked at ${result.health.maxQueued}`);
  assert.equal(result.health.maxRunning, CAPS.maxRunningExecutions, "the burst filled every slot");

  // Each admitted execution's record says what happened; a refusal left no record behind.
  for (const each of result.finished) {
    const record = await apiGet(server.url, `/v1/executions/${each.id}`);
    assert.equal(record.status, 200);
    const state = record.json as { status: string; result: { stdout: string } };
    assert.equal(state.status, "completed");
    assert.equal(state.result.stdout, each.stdout);
  }
  finishedSoFar += result.finished.length;
  const { body } = await health(server.url);
  assert.equal(body.executions.finished, finishedSoFar, "only admitted executions were recorded");
}

describe("load: 200 simultaneous executions against ptc serve (2 running, 3 queued)", () => {
  test("caps hold, the rest get 429 overloaded with Retry-After, every admitted execution is right, retrying clients get through", async (t) => {
    const result = await runBurst(server, { count: CLIENTS, retrying: RETRYING });
    t.diagnostic(JSON.stringify(summarizeBurst(result)));
    await assertBurst(result);
    settled.push(await settledMemory(server));
  });

  test("memory stays flat: a second burst leaves the server's RSS where the first one left it", async (t) => {
    assert.equal(settled.length, 1, "runs after the first burst");
    const result = await runBurst(server, { count: CLIENTS, firstIndex: 1_000, retrying: RETRYING });
    await assertBurst(result);
    settled.push(await settledMemory(server));
    const [first, second] = settled as [MemorySample, MemorySample];
    t.diagnostic(`settled RSS: ${JSON.stringify(settled)}`);
    // Generous: V8 grows its heap lazily; a per-request leak over 400 requests would still show.
    assert.ok(
      second.serverMiB <= first.serverMiB * 1.25,
      `server RSS ${first.serverMiB.toFixed(0)} MiB after the first burst, ${second.serverMiB.toFixed(0)} MiB after the second`,
    );
  });

  test("SIGTERM after the bursts: exit 0, no process of the server's tree left, no key or secret in its logs", async () => {
    const code = await server.stop();
    assert.equal(code, 0, server.stderr().slice(-2000));
    assert.ok(server.seenPids.size > 1, "sandboxes were seen under the server");
    const deadline = Date.now() + 5_000;
    let alive = [...server.seenPids].filter(isAlive);
    while (alive.length > 0 && Date.now() < deadline) {
      await delay(50);
      alive = [...server.seenPids].filter(isAlive);
    }
    assert.deepEqual(alive, [], "every sandbox died with the server");
    const logs = server.stderr();
    assertNoSecret(logs, "server log");
    assert.ok(!logs.includes(LOAD_KEY), "the API key never reaches the logs");
    const lines = logs.split("\n").filter((line) => line.startsWith("{"));
    const errors = lines.filter((line) => (JSON.parse(line) as { level?: string }).level === "error");
    assert.deepEqual(errors, [], "no error was logged under load");
  });
});
