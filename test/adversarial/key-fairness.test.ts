import assert from "node:assert/strict";
import { test } from "node:test";
import { createAdmissionController } from "../../src/server/admission.js";
import { createMessagesHandler, type MessagesHandler } from "../../src/server/anthropic/messages-handler.js";
import { ResourceOwners } from "../../src/server/resource-owners.js";
import { createAnthropicUpstream } from "../../src/upstream/index.js";
import { delay } from "../helpers/engine.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../helpers/scripted-model-server.js";
import {
  assertCompleted,
  assertNoHostLeak,
  type Harness,
  KEY,
  OTHER_KEY,
  startHarness,
  underAttack,
  type WireErrorBody,
  type WireExecution,
} from "./harness.js";

/**
 * Fairness between API keys. Key A (`KEY`, also the benign neighbour's) and key B (`OTHER_KEY`, the
 * attacker) share one server: B can neither end A's containers (and their Python state) nor hold every
 * running slot, on the executions API and on /v1/messages alike, and a key padded with whitespace is not
 * the key.
 *
 * Protections: `ContainerManager.makeRoom` with `ResourceOwners` as the quota (a key past its container quota,
 * or on a server at its container cap, ends only its own least recently used idle container, else 429
 * `key_container_quota_exceeded` / `container_cap_reached`), where the executions API starts a container's
 * first execution and where /v1/messages creates a container; the admission controller's per-key running and
 * queue quotas and its fewest-slots-first hand-out (src/server/admission.ts), with the request's key taken
 * from the authentication middleware (`runAsOwner`) for /v1/messages; `presentedKey` (no trimming).
 */

/** A client tool: no handler on the server, so a call pauses the script until its owner answers. */
const APPROVE = { name: "approve", description: "asks the client", input_schema: { type: "object" } };

const FINISHED = new Set(["completed", "failed", "cancelled"]);

/** Waits until the execution has finished (it may have been queued past the first response's wait). */
async function finished(h: Harness, state: WireExecution, key: string): Promise<WireExecution> {
  let current = state;
  for (let attempt = 0; attempt < 10 && !FINISHED.has(current.status); attempt++) {
    const { status, json, text } = await h.request("GET", `/v1/executions/${state.id}?wait=60`, undefined, key);
    assert.equal(status, 200, text.slice(0, 500));
    current = json as WireExecution;
  }
  return current;
}

/** Runs `attack`, then `cleanup` whatever happened, so a failed case leaves nothing holding slots for the next. */
async function withCleanup(attack: (cleanup: Array<() => Promise<unknown>>) => Promise<void>): Promise<void> {
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    await attack(cleanup);
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

/** Polls until `check` holds. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(50);
  }
}

async function containerStatus(h: Harness, id: string, key: string): Promise<number> {
  return (await h.request("GET", `/v1/containers/${id}`, undefined, key)).status;
}

/** Ends `key`'s containers (underAttack ends the harness key's only). */
async function endContainers(h: Harness, ids: Iterable<string>, key: string): Promise<void> {
  for (const id of ids) {
    const { status } = await h.request("DELETE", `/v1/containers/${id}`, undefined, key);
    assert.ok(status === 200 || status === 404 || status === 410, `DELETE container: ${status}`);
    h.containers.delete(id);
  }
}

// ---- /v1/messages on the harness's server: a scripted upstream that runs the code the user sends. ----

const MODEL = "claude-sonnet-5";
const CODE_TOOLS = [
  { type: "code_execution_20260120", name: "code_execution" },
  { name: "approve", input_schema: { type: "object" }, allowed_callers: ["code_execution_20260120"] },
];

/** The upstream model: a user turn `CODE:<python>` gets a code_execution call running it; anything else, text. */
async function codeRunningModel(): Promise<ScriptedModelServer> {
  return startScriptedModelServer((request) => {
    const messages = request.body.messages as Array<{ role: string; content: unknown }>;
    const last = messages.at(-1);
    const blocks = Array.isArray(last?.content) ? (last.content as Array<{ type: string; text?: unknown }>) : [];
    const text = typeof last?.content === "string" ? last.content : blocks.find((block) => block.type === "text")?.text;
    if (last?.role === "user" && typeof text === "string" && text.startsWith("CODE:")) {
      return { toolCalls: [{ name: "code_execution", input: { code: text.slice(5) } }] };
    }
    return { text: "done" };
  });
}

interface MessageReply {
  status: number;
  headers: Headers;
  stopReason: string | undefined;
  container: string | undefined;
  stdout: string[];
  error: { type: string; message: string } | undefined;
}

/** POST /v1/messages with one user turn; with `stream`, the SSE events are read to the end. */
async function message(
  h: Harness,
  key: string,
  content: string,
  options: { container?: string; stream?: boolean } = {},
): Promise<MessageReply> {
  const body = {
    model: MODEL,
    max_tokens: 256,
    tools: CODE_TOOLS,
    messages: [{ role: "user", content }],
    ...(options.container ? { container: options.container } : {}),
    ...(options.stream ? { stream: true } : {}),
  };
  const response = await h.request("POST", "/v1/messages", body, key);
  assertNoHostLeak(response.text);
  if (options.stream) {
    const events = [...response.text.matchAll(/^data: (.*)$/gm)].map(
      (match) => JSON.parse(match[1] as string) as Record<string, unknown>,
    );
    const delta = events.find((event) => event.type === "message_delta") as
      | { delta: { stop_reason: string; container: { id: string } | null } }
      | undefined;
    const failure = events.find((event) => event.type === "error") as
      | { error: { type: string; message: string } }
      | undefined;
    return {
      status: response.status,
      headers: response.headers,
      stopReason: delta?.delta.stop_reason,
      container: delta?.delta.container?.id,
      stdout: [],
      error: failure?.error,
    };
  }
  const json = response.json as {
    stop_reason?: string;
    container?: { id: string } | null;
    content?: Array<{ type: string; content?: { stdout?: string } }>;
    error?: { type: string; message: string };
  };
  return {
    status: response.status,
    headers: response.headers,
    stopReason: json.stop_reason,
    container: json.container?.id,
    stdout: (json.content ?? [])
      .filter((block) => block.type === "code_execution_tool_result")
      .map((block) => block.content?.stdout ?? ""),
    error: json.error,
  };
}

/** B pauses two /v1/messages scripts (one streamed), each in a new container; cleanup moves on without answering them. */
async function pauseTwo(h: Harness, cleanup: Array<() => Promise<unknown>>): Promise<MessageReply[]> {
  const paused: MessageReply[] = [];
  cleanup.push(async () => {
    for (const reply of paused) {
      if (reply.container) await message(h, OTHER_KEY, "never mind", { container: reply.container });
    }
  });
  paused.push(await message(h, OTHER_KEY, "CODE:print(await approve())"));
  paused.push(await message(h, OTHER_KEY, "CODE:print(await approve())", { stream: true }));
  for (const reply of paused) assert.equal(reply.stopReason, "tool_use", JSON.stringify(reply.error));
  return paused;
}

/** Starts a harness whose server also answers /v1/messages, with its own container account `owners`. */
async function harnessWithMessages(
  model: ScriptedModelServer,
  owners: ResourceOwners,
  server: Parameters<typeof startHarness>[0] = {},
): Promise<Harness> {
  let handler: MessagesHandler | undefined;
  const h = await startHarness({
    ...server,
    server: { ...server.server, messages: (call) => (handler as MessagesHandler)(call) },
  });
  handler = createMessagesHandler({
    engine: h.engine,
    serverTools: [],
    upstream: createAnthropicUpstream({ apiKey: "upstream-key", baseURL: model.url, maxRetries: 0 }),
    owners,
    admission: h.serverApp.admission,
    executionLimits: { pendingToolTimeoutMs: 120_000 },
    pingIntervalMs: 1_000,
  });
  return h;
}

test("containers: one key cannot end another key's containers", async (t) => {
  const model = await codeRunningModel();
  t.after(() => model.close());
  // The executions API at the defaults: 32 live containers, 16 per key. /v1/messages' containers are
  // counted by their own small account here (3 live, 2 per key), to reach its limits with a few requests.
  const harness = await harnessWithMessages(model, new ResourceOwners({ maxContainers: 3, maxContainersPerKey: 2 }));

  await t.test(
    "B runs 33 new-container executions (more than the server's cap): A's container and its Python state survive; B's oldest are B's own to lose",
    () =>
      underAttack(harness, () =>
        withCleanup(async (cleanup) => {
          const a = await harness.execute({ code: "state = 'A' * 3\nprint('set')" });
          await assertCompleted(harness, a);
          const flood = await Promise.all(
            Array.from({ length: 33 }, (_, index) => harness.execute({ code: `print(${index})` }, OTHER_KEY)),
          );
          cleanup.push(() =>
            endContainers(
              harness,
              flood.map((state) => state.container_id),
              OTHER_KEY,
            ),
          );
          const done = await Promise.all(flood.map((state) => finished(harness, state, OTHER_KEY)));
          done.forEach((state, index) => {
            assert.equal(state.status, "completed", JSON.stringify(state.result?.error));
            assert.equal(state.result?.stdout, `${index}\n`);
          });
          // A's container is there, with its state.
          assert.equal(await containerStatus(harness, a.container_id, KEY), 200, "A's container was not ended for B");
          const again = await harness.execute({ code: "print(state)", container: a.container_id });
          assert.equal((await assertCompleted(harness, again)).stdout, "AAA\n");
          assert.equal(again.result?.container_reset, false);
          // B kept at most its quota (16) live; the rest of B's were ended to make room for B's newer ones.
          const statuses = await Promise.all(
            done.map((state) => containerStatus(harness, state.container_id, OTHER_KEY)),
          );
          const live = statuses.filter((status) => status === 200).length;
          const ended = statuses.filter((status) => status === 410).length;
          assert.equal(live + ended, 33, JSON.stringify(statuses));
          assert.ok(live <= 16, `B holds ${live} live containers`);
          assert.ok(ended >= 17, `${ended} of B's containers were ended`);
          const endedOne = done[statuses.indexOf(410)] as WireExecution;
          const reuse = await harness.request(
            "POST",
            "/v1/executions",
            { code: "print(1)", container: endedOne.container_id },
            OTHER_KEY,
          );
          assert.equal(reuse.status, 410);
          const body = reuse.json as WireErrorBody;
          assert.equal(body.error.code, "container_expired");
          assert.match(body.error.message, /newer containers of this API key/);
        }),
      ),
  );

  await t.test(
    "/v1/messages: B's new containers end only B's own; at its quota with all busy, 429 key_container_quota_exceeded",
    () =>
      underAttack(harness, () =>
        withCleanup(async (cleanup) => {
          const a = await message(harness, KEY, "CODE:kept = 'A state'\nprint('set')");
          assert.equal(a.status, 200, JSON.stringify(a.error));
          assert.deepEqual(a.stdout, ["set\n"]);
          const aContainer = a.container as string;
          // B: four one-off conversations, each in a new container (B's quota is 2, the server's cap 3).
          const bContainers: string[] = [];
          for (let index = 0; index < 4; index++) {
            const b = await message(harness, OTHER_KEY, `CODE:print(${index})`);
            assert.equal(b.status, 200, JSON.stringify(b.error));
            assert.deepEqual(b.stdout, [`${index}\n`]);
            bContainers.push(b.container as string);
          }
          // B's first was ended to make room for B's newer ones: B gets container_expired for it.
          const stale = await message(harness, OTHER_KEY, "CODE:print('stale')", { container: bContainers[0] });
          assert.equal(stale.status, 400);
          assert.match(stale.error?.message ?? "", /^container_expired: .*make room/);
          // B pauses two scripts (one streamed): both of its containers are busy, and it holds its quota.
          const paused = await pauseTwo(harness, cleanup);
          const refused = await message(harness, OTHER_KEY, "CODE:print('one more')");
          assert.equal(refused.status, 429, JSON.stringify(refused.error));
          assert.equal(refused.error?.type, "rate_limit_error");
          assert.match(refused.error?.message ?? "", /^key_container_quota_exceeded: /);
          assert.match(refused.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
          // A's container and its state are untouched.
          const later = await message(harness, KEY, "CODE:print(kept)", { container: aContainer });
          assert.equal(later.status, 200, JSON.stringify(later.error));
          assert.deepEqual(later.stdout, ["A state\n"]);
          assert.equal(paused.length, 2, "cleanup: B moves on without answering, which cancels its paused scripts");
        }),
      ),
  );
});

test("running slots: one key's paused executions cannot hold every slot", async (t) => {
  const model = await codeRunningModel();
  t.after(() => model.close());
  // 4 slots (2 per key) and a queue of 8 (4 per key).
  const harness = await harnessWithMessages(model, new ResourceOwners(), {
    server: { admission: createAdmissionController({ maxRunningExecutions: 4, maxQueuedExecutions: 8 }) },
  });
  const admission = harness.serverApp.admission;

  await t.test("B's paused executions take its 2 slots and queue the rest; A's execution runs at once", () =>
    underAttack(harness, () =>
      withCleanup(async (cleanup) => {
        const flood = await Promise.all(
          Array.from({ length: 6 }, () =>
            harness.execute({ code: "print(await approve())", tools: [APPROVE], wait: 0 }, OTHER_KEY),
          ),
        );
        cleanup.push(async () => {
          for (const state of flood) {
            await harness.request("DELETE", `/v1/executions/${state.id}`, undefined, OTHER_KEY);
          }
          await endContainers(
            harness,
            flood.map((state) => state.container_id),
            OTHER_KEY,
          );
          await until(async () => admission.stats().running === 0, "B's slots to be given back", 10_000);
        });
        const states = async () =>
          Promise.all(
            flood.map(async (state) => {
              const { json } = await harness.request("GET", `/v1/executions/${state.id}`, undefined, OTHER_KEY);
              return (json as WireExecution).status;
            }),
          );
        await until(
          async () => (await states()).filter((status) => status === "paused").length >= 2,
          "B's executions to pause",
        );
        const started = Date.now();
        const a = await harness.execute({ code: "print('A runs')", wait: 20 });
        assert.equal((await assertCompleted(harness, a)).stdout, "A runs\n");
        assert.ok(Date.now() - started < 15_000, `A waited ${Date.now() - started} ms`);
        const seen = await states();
        assert.equal(seen.filter((status) => status === "paused").length, 2, `B's: ${seen.join(", ")}`);
        assert.equal(seen.filter((status) => status === "queued").length, 4, "the rest of B's wait for B's own slots");
        // B's share of the queue (4) is full: B's next is refused with its own code.
        const refused = await harness.request("POST", "/v1/executions", { code: "print(1)" }, OTHER_KEY);
        assert.equal(refused.status, 429);
        assert.equal((refused.json as WireErrorBody).error.code, "key_queue_quota_exceeded");
        assert.match(refused.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
      }),
    ),
  );

  await t.test("/v1/messages scripts count against their key's slots: B's paused ones do not hold up A", () =>
    underAttack(harness, () =>
      withCleanup(async (cleanup) => {
        const paused = await pauseTwo(harness, cleanup);
        // B holds its 2 slots through /v1/messages: B's next execution waits, although 2 slots are free.
        const behind = await harness.execute({ code: "print('B later')", wait: 0 }, OTHER_KEY);
        cleanup.push(async () => {
          await harness.request("DELETE", `/v1/executions/${behind.id}`, undefined, OTHER_KEY);
          await endContainers(harness, [behind.container_id], OTHER_KEY);
        });
        assert.equal(behind.status, "queued");
        const started = Date.now();
        const a = await harness.execute({ code: "print('A runs')", wait: 20 });
        assert.equal((await assertCompleted(harness, a)).stdout, "A runs\n");
        assert.ok(Date.now() - started < 15_000, `A waited ${Date.now() - started} ms`);
        const viaMessages = await message(harness, KEY, "CODE:print('A via messages')");
        assert.deepEqual(viaMessages.stdout, ["A via messages\n"]);
        // B moves on without answering: its scripts end, and its queued execution gets a slot.
        for (const reply of paused) {
          const moved = await message(harness, OTHER_KEY, "never mind", { container: reply.container as string });
          assert.equal(moved.status, 200, JSON.stringify(moved.error));
        }
        const ran = await finished(harness, behind, OTHER_KEY);
        assert.equal(ran.result?.stdout, "B later\n");
      }),
    ),
  );

  await t.test("a key with anything around it is not the key: 401, byte-exact comparison", () =>
    underAttack(harness, async () => {
      const nbsp = "\u00a0";
      const attempts: Array<Record<string, string>> = [
        { "x-api-key": `${nbsp}${KEY}${nbsp}` },
        { "x-api-key": `${KEY}${nbsp}` },
        { authorization: `Bearer  ${KEY}` },
        { authorization: `Bearer \t${KEY}` },
        { authorization: `Bearer\t${KEY}` },
        { authorization: `Bearer ${KEY}${nbsp}` },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${harness.url}/v1/executions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ code: "print('in')" }),
        });
        const text = await response.text();
        assert.equal(response.status, 401, `${JSON.stringify(headers).replace(KEY, "KEY")}: ${text}`);
        assert.equal((JSON.parse(text) as WireErrorBody).error.code, "authentication_failed");
        assertNoHostLeak(text);
      }
      const exact = await fetch(`${harness.url}/v1/executions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ code: "print('in')" }),
      });
      assert.equal(exact.status, 200);
      const state = (await exact.json()) as WireExecution;
      harness.containers.add(state.container_id);
      assert.equal(state.result?.stdout, "in\n");
    }),
  );
});
