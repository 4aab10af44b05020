import assert from "node:assert/strict";
import { test } from "node:test";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { codeTool, delay } from "../helpers/engine.js";
import {
  assertCompleted,
  assertFailedWith,
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
 * Attacks on the pause/resume protocol of `ptc serve`: client tools pause the script until
 * `POST /v1/executions/{id}/tool_results` answers them. Whatever a client sends (twice, in a race,
 * for calls that do not exist, malformed, late, after a cancel), the script sees exactly one value
 * per call and a paused execution is never disturbed by a refused request.
 */

/** A client tool: no handler on the server, so every call pauses the script. */
const APPROVE = { name: "approve", description: "asks the client", input_schema: { type: "object" } };

/** Server tool calls in flight when a cancel comes: their signals, and how many settled after the end. */
const hanging = { signals: [] as AbortSignal[], lateSettled: 0 };
const hang: ToolDefinition = codeTool("hang", (input, context) => {
  hanging.signals.push(context.signal);
  const mode = String(input.mode);
  // Settle late, after the execution has ended: nothing may crash or change the record. `ignore` does
  // not even listen for the abort.
  const settleLate = (settle: () => void) =>
    setTimeout(() => {
      hanging.lateSettled++;
      settle();
    }, 50);
  return new Promise((resolve, reject) => {
    if (mode === "ignore") {
      setTimeout(() => settleLate(() => resolve("ignored the abort")), 2_000);
      return;
    }
    context.signal.addEventListener("abort", () =>
      settleLate(() => (mode === "resolve" ? resolve({ late: true }) : reject(new Error("late failure")))),
    );
  });
});

/** The shared harness, started by the main test (its sandboxes must not overlap another harness's). */
let harness: Harness;

type Submitted = WireExecution & { submitted: Array<{ call_id: string; status: string }> };

async function pauseOn(code: string, extra: Record<string, unknown> = {}): Promise<WireExecution> {
  const state = await harness.execute({ code, tools: [APPROVE], limits: { wall_timeout_ms: 20_000 }, ...extra });
  assert.equal(state.status, "paused", JSON.stringify(state.result?.error ?? state.status));
  assert.ok(state.pending_tool_calls.length > 0);
  return state;
}

async function submit(id: string, results: unknown[], key?: string) {
  return harness.request("POST", `/v1/executions/${id}/tool_results`, { results, wait: 20 }, key);
}

async function submitOk(id: string, results: unknown[]): Promise<Submitted> {
  const { status, json, text } = await submit(id, results);
  assert.equal(status, 200, text.slice(0, 500));
  return json as Submitted;
}

/** A refused request answered with the stable error shape, and nothing from the host in it. */
function assertRefused(
  response: { status: number; json: unknown; text: string },
  status: number,
  code: string,
  what: string,
): void {
  assert.equal(response.status, status, `${what}: ${response.text.slice(0, 300)}`);
  const body = response.json as WireErrorBody;
  assert.equal(body.type, "error", what);
  assert.equal(body.error.code, code, `${what}: ${body.error.message}`);
  assert.ok(body.error.message.length > 0, what);
  assertNoHostLeak(response.text);
}

/** The ids of an execution's first `count` tool calls, read from its event stream (past events first). */
async function toolCallIds(id: string, count: number): Promise<string[]> {
  const abort = new AbortController();
  const response = await fetch(`${harness.url}/v1/executions/${id}/events`, {
    headers: { "x-api-key": KEY },
    signal: abort.signal,
  });
  const reader = response.body?.getReader();
  assert.ok(reader);
  const decoder = new TextDecoder();
  let text = "";
  let ids: string[] = [];
  while (ids.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    ids = [...text.matchAll(/event: tool-call\ndata: (.*)\n/g)].map(
      (match) => (JSON.parse(match[1] as string) as { call: { id: string } }).call.id,
    );
  }
  abort.abort();
  return ids;
}

/** The execution is still paused on exactly `callIds`: a refused request changed nothing. */
async function assertStillPaused(h: Harness, id: string, callIds: string[]): Promise<void> {
  const state = await h.record(id);
  assert.equal(state.status, "paused");
  assert.deepEqual(state.pending_tool_calls.map((call) => call.id).sort(), [...callIds].sort());
}

// In a harness of its own with a short idle timeout (the shared harness's benign container must outlive
// every case), started and closed before the shared one (the orphan check knows one engine at a time).
// Protection: `ContainerRecords.live` answers 410 (the engine's `ContainerManager` keeps the tombstone) for a container that existed and ended; a paused
// execution keeps its container busy, so it never idles out under a waiting client.
test("a container that idled out answers 410 container_expired; a paused one is kept", async () => {
  const idle = await startHarness({
    engine: { pool: { size: 1 }, containerIdleTimeoutMs: 600 },
  });
  await underAttack(idle, async () => {
    const first = await idle.execute({ code: "x = 1" });
    await assertCompleted(idle, first);
    const paused = await idle.execute({ code: "v = await approve()\nprint('kept', v)", tools: [APPROVE] });
    assert.equal(paused.status, "paused");
    const deadline = Date.now() + 10_000;
    while (idle.engine.hasContainer(first.container_id) && Date.now() < deadline) await delay(100);
    assert.ok(!idle.engine.hasContainer(first.container_id), "the idle container was ended");
    const body = JSON.stringify({ code: "print(x)", container: first.container_id });
    assertRefused(await idle.request("POST", "/v1/executions", body), 410, "container_expired", "reuse");
    assertRefused(await idle.request("GET", `/v1/containers/${first.container_id}`), 410, "container_expired", "get");
    // Paused past the idle timeout: still there, and resumes.
    const callId = paused.pending_tool_calls[0]?.id as string;
    const { status, json } = await idle.request("POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, content: "yes" }],
    });
    assert.equal(status, 200);
    assert.equal((await assertCompleted(idle, json as WireExecution)).stdout, "kept yes\n");
  });
});

test("pause/resume over HTTP", async (t) => {
  harness = await startHarness({ tools: [hang] });
  // Protection: the broker settles a call once (its `#settled` set and `#live` map); a second
  // submission is reported `duplicate` and never reaches the script.
  await t.test("the same result submitted twice: accepted then duplicate, the script sees one value", async () => {
    await underAttack(harness, async () => {
      const code = [
        "a = await approve(step=1)",
        "print('first', a)",
        "b = await approve(step=2)",
        "print('second', b)",
      ];
      const paused = await pauseOn(code.join("\n"));
      const first = paused.pending_tool_calls[0]?.id as string;
      const body = [{ call_id: first, content: "A" }];
      const once = await submitOk(paused.id, body);
      assert.deepEqual(once.submitted, [{ call_id: first, status: "accepted" }]);
      assert.equal(once.status, "paused", "now paused on the second call");
      const second = once.pending_tool_calls[0]?.id as string;
      assert.notEqual(second, first);
      // The retry arrives while the script waits on another call: it must not answer that one.
      const twice = await submitOk(paused.id, body);
      assert.deepEqual(twice.submitted, [{ call_id: first, status: "duplicate" }]);
      await assertStillPaused(harness, paused.id, [second]);
      const done = await submitOk(paused.id, [{ call_id: second, content: "B" }]);
      const result = await assertCompleted(harness, done);
      assert.equal(result.stdout, "first A\nsecond B\n");
      assert.equal(result.tool_calls.length, 2);
      assert.ok(result.tool_calls.every((call) => call.ok && call.resolved_by === "caller"));
      const after = await submitOk(paused.id, body);
      assert.deepEqual(after.submitted, [{ call_id: first, status: "duplicate" }]);
      assert.equal(after.result?.stdout, "first A\nsecond B\n", "a retry after the end changes nothing");
    });
  });

  // Protection: submissions are applied one at a time on the event loop and the broker's first
  // settlement wins; the others find the call settled.
  await t.test(
    "ten racing submissions with different values: exactly one accepted, the script saw that one",
    async () => {
      await underAttack(harness, async () => {
        const paused = await pauseOn("v = await approve()\nprint('value', v['i'])");
        const callId = paused.pending_tool_calls[0]?.id as string;
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, i) => submit(paused.id, [{ call_id: callId, content: { i } }])),
        );
        const statuses = answers.map((answer) => {
          assert.equal(answer.status, 200, answer.text.slice(0, 300));
          return (answer.json as Submitted).submitted[0]?.status;
        });
        const accepted = statuses.flatMap((status, i) => (status === "accepted" ? [i] : []));
        assert.equal(accepted.length, 1, `exactly one accepted: ${statuses.join(",")}`);
        assert.equal(statuses.filter((status) => status === "duplicate").length, 9);
        const final = await harness.record(paused.id);
        const result = await assertCompleted(harness, final);
        assert.equal(result.stdout, `value ${accepted[0]}\n`, "the script saw the accepted value");
        assert.equal(result.tool_calls.length, 1);
      });
    },
  );

  // Protection: `ExecutionStore.submit` checks every call id before applying any (all or nothing).
  await t.test(
    "an unknown call id fails the whole request with 400 unknown_tool_call; nothing is applied",
    async () => {
      await underAttack(harness, async () => {
        const paused = await pauseOn("v = await approve()\nprint('got', v)");
        const other = await pauseOn("w = await approve()\nprint('other', w)");
        const callId = paused.pending_tool_calls[0]?.id as string;
        const otherCall = other.pending_tool_calls[0]?.id as string;
        const unknown = await submit(paused.id, [
          { call_id: callId, content: "must not be applied" },
          { call_id: "call_doesnotexist", content: 1 },
        ]);
        assertRefused(unknown, 400, "unknown_tool_call", "bogus id");
        // Another execution's real call id is just as unknown here.
        assertRefused(
          await submit(paused.id, [{ call_id: otherCall, content: 2 }]),
          400,
          "unknown_tool_call",
          "foreign",
        );
        // Another key cannot even see the execution.
        assertRefused(await submit(paused.id, [{ call_id: callId, content: 3 }], OTHER_KEY), 404, "not_found", "key");
        await assertStillPaused(harness, paused.id, [callId]);
        await assertStillPaused(harness, other.id, [otherCall]);
        const done = await submitOk(paused.id, [{ call_id: callId, content: "right" }]);
        assert.equal((await assertCompleted(harness, done)).stdout, "got right\n");
        const otherDone = await submitOk(other.id, [{ call_id: otherCall, content: "own" }]);
        assert.equal((await assertCompleted(harness, otherDone)).stdout, "other own\n");
      });
    },
  );

  // Protection: `readJsonBody` (400 on unparsable JSON, never a 500), the zod schemas of
  // request-schemas.ts, and the app's 16 MiB body limit (413).
  await t.test("malformed submissions get 400/413 with stable codes; the paused execution is unaffected", async () => {
    await underAttack(harness, async () => {
      const paused = await pauseOn("v = await approve()\nprint('got', v)");
      const callId = paused.pending_tool_calls[0]?.id as string;
      const path = `/v1/executions/${paused.id}/tool_results`;
      const bodies: Array<[string, string | unknown]> = [
        ["not JSON", "{results: [oops"],
        ["truncated JSON", `{"results": [{"call_id": "${callId}", "content": 1}`],
        ["JSON null", "null"],
        ["an array", [{ call_id: callId, content: 1 }]],
        ["results not a list", { results: callId }],
        ["no results", { results: [] }],
        ["call_id a number", { results: [{ call_id: 7, content: 1 }] }],
        ["both content and error", { results: [{ call_id: callId, content: 1, error: { message: "x" } }] }],
        ["neither content nor error", { results: [{ call_id: callId }] }],
        ["error not an object", { results: [{ call_id: callId, error: 5 }] }],
        ["unknown field", { results: [{ call_id: callId, content: 1 }], extra: true }],
        ["wait out of range", { results: [{ call_id: callId, content: 1 }], wait: 3600 }],
      ];
      for (const [what, body] of bodies) {
        assertRefused(await harness.request("POST", path, body), 400, "invalid_request", what);
      }
      const huge = JSON.stringify({ results: [{ call_id: callId, content: "x".repeat(17 * 1_048_576) }] });
      assertRefused(await harness.request("POST", path, huge), 413, "payload_too_large", "17 MB");
      await assertStillPaused(harness, paused.id, [callId]);
      const done = await submitOk(paused.id, [{ call_id: callId, content: { fine: true } }]);
      assert.equal((await assertCompleted(harness, done)).stdout, "got {'fine': True}\n");
    });
  });

  // Protection: the broker's pending-call timer (`pending_tool_timeout_ms`) raises ToolTimeoutError
  // and settles the call, so a late answer is a harmless duplicate.
  await t.test("a call left unanswered times out in the script; the late answer is a duplicate", async () => {
    await underAttack(harness, async () => {
      const code = [
        "try:",
        "    await approve(step=1)",
        "except TimeoutError as error:",
        "    print('timeout', type(error).__name__, error.code)",
        "v = await approve(step=2)",
        "print('second', v)",
      ].join("\n");
      const paused = await pauseOn(code, { limits: { wall_timeout_ms: 20_000, pending_tool_timeout_ms: 300 } });
      // Paused again, on the second call, once the first timed out (which may already be the case).
      let state = paused;
      const deadline = Date.now() + 10_000;
      while (state.pending_tool_calls[0]?.input.step !== 2 && Date.now() < deadline) {
        await delay(50);
        state = await harness.record(paused.id);
      }
      assert.equal(state.status, "paused");
      const second = state.pending_tool_calls[0]?.id as string;
      const [first] = await toolCallIds(paused.id, 2);
      assert.ok(first && second && first !== second);
      const late = await submitOk(paused.id, [
        { call_id: first, content: "too late" },
        { call_id: second, content: "in time" },
      ]);
      assert.deepEqual(
        late.submitted.map((item) => item.status),
        ["duplicate", "accepted"],
      );
      const result = await assertCompleted(harness, late);
      assert.equal(result.stdout, "timeout ToolTimeoutError tool_timeout\nsecond in time\n");
      assert.equal(result.tool_calls[0]?.error?.code, "tool_timeout");
      assert.ok(result.limits_hit.includes("tool_timeout"));
    });
  });

  // Protection: `ToolCallBroker.close` aborts every live call's controller when the execution halts,
  // and `#settle` ignores anything that comes after.
  await t.test(
    "DELETE while server handlers run: cancelled, every handler's signal aborted, late results ignored",
    async () => {
      await underAttack(harness, async () => {
        hanging.signals = [];
        hanging.lateSettled = 0;
        const code = "import asyncio\nawait asyncio.gather(*[hang(mode=m) for m in ('resolve', 'reject', 'ignore')])";
        const state = await harness.execute({ code, wait: 0, limits: { wall_timeout_ms: 20_000 } });
        const deadline = Date.now() + 10_000;
        while (hanging.signals.length < 3 && Date.now() < deadline) await delay(20);
        assert.equal(hanging.signals.length, 3, "three handlers in flight");
        assert.ok(hanging.signals.every((signal) => !signal.aborted));
        const { status, json } = await harness.request("DELETE", `/v1/executions/${state.id}`);
        assert.equal(status, 200);
        const result = await assertFailedWith(harness, json as WireExecution, "cancelled", "cancelled");
        for (const signal of hanging.signals) {
          assert.ok(signal.aborted, "every handler's signal is aborted");
          assert.equal((signal.reason as { code?: string }).code, "cancelled");
        }
        while (hanging.lateSettled < 3 && Date.now() < deadline) await delay(20);
        assert.equal(hanging.lateSettled, 3, "the handlers settled after the end");
        const recorded = await harness.record(state.id);
        assert.equal(recorded.status, "cancelled", "late handler results change nothing");
        assert.deepEqual(recorded.result, result);
        assert.ok(result.tool_calls.every((call) => !call.ok && call.error?.code === "cancelled"));
      });
    },
  );

  // Protection: `ExecutionStore.submit` answers `duplicate` for a finished execution; cancel kills the
  // sandbox, so nothing is left to resume; a second DELETE answers the final state unchanged.
  await t.test(
    "cancel while paused, twice: the final state stands and a later answer never resurrects it",
    async () => {
      await underAttack(harness, async () => {
        const paused = await pauseOn("state = 'before'\nv = await approve()\nprint('resumed', v)");
        const callId = paused.pending_tool_calls[0]?.id as string;
        const cancel = await harness.request("DELETE", `/v1/executions/${paused.id}`);
        assert.equal(cancel.status, 200);
        const cancelled = cancel.json as WireExecution;
        await assertFailedWith(harness, cancelled, "cancelled", "cancelled");
        assert.deepEqual(cancelled.pending_tool_calls, []);
        const again = await harness.request("DELETE", `/v1/executions/${paused.id}`);
        assert.equal(again.status, 200);
        assert.deepEqual(again.json, cancel.json, "a second cancel answers the same final state");
        const late = await submitOk(paused.id, [{ call_id: callId, content: "resurrect" }]);
        assert.deepEqual(late.submitted, [{ call_id: callId, status: "duplicate" }]);
        assert.equal(late.status, "cancelled");
        assertRefused(await submit(paused.id, [{ call_id: "call_nope", content: 1 }]), 400, "unknown_tool_call", "x");
        const recorded = await harness.record(paused.id);
        assert.equal(recorded.status, "cancelled");
        assert.doesNotMatch(recorded.result?.stdout ?? "", /resumed/);
        // The cancel killed the sandbox: the container lives on, with a fresh interpreter.
        const next = await harness.execute({ code: "print('state' in globals())", container: paused.container_id });
        const fresh = await assertCompleted(harness, next);
        assert.equal(fresh.stdout, "False\n");
        assert.equal(fresh.container_reset, true);
      });
    },
  );

  // Protection: submit and cancel both run to completion on the event loop; the broker's `close` ends
  // every live call, so whichever comes second finds the call settled (duplicate) or the result final.
  await t.test("a submission racing a cancel: one consistent outcome, recorded as answered", async () => {
    await underAttack(harness, async () => {
      const paused = await pauseOn("v = await approve()\nprint('resumed', v)");
      const callId = paused.pending_tool_calls[0]?.id as string;
      const [submitted, cancelled] = await Promise.all([
        submit(paused.id, [{ call_id: callId, content: "raced" }]),
        harness.request("DELETE", `/v1/executions/${paused.id}`),
      ]);
      assert.equal(submitted.status, 200, submitted.text.slice(0, 300));
      assert.equal(cancelled.status, 200, cancelled.text.slice(0, 300));
      const final = await harness.record(paused.id);
      assert.ok(final.status === "completed" || final.status === "cancelled", final.status);
      const status = (submitted.json as Submitted).submitted[0]?.status;
      if (final.status === "completed") {
        assert.equal(status, "accepted", "completed only with the answer");
        assert.equal((await assertCompleted(harness, final)).stdout, "resumed raced\n");
      } else {
        await assertFailedWith(harness, final, "cancelled", "cancelled");
        assert.ok(status === "accepted" || status === "duplicate", String(status));
      }
      assert.deepEqual(cancelled.json, final, "DELETE answered the final state");
    });
  });
});
