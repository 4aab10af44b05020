import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { delay } from "../../helpers/engine.js";
import {
  call,
  clientTool,
  execute,
  KEY_A,
  testServer,
  type WireError,
  type WireState,
} from "../../helpers/server-executions.js";

const { server } = testServer();

describe("ptc serve: executions", () => {
  test("a finished execution comes back with its result in snake_case", async () => {
    const state = await execute(server, { code: "r = await double(n=21)\nprint(r['doubled'])" });
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
    const paused = await execute(server, { code, tools: [clientTool("lookup")] });
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
    const paused = await execute(server, { code, tools: [clientTool("lookup")] });
    const callId = paused.pending_tool_calls[0]?.id;
    const { json } = await call(server, "POST", `/v1/executions/${paused.id}/tool_results`, {
      results: [{ call_id: callId, error: { message: "no such row", code: "not_found" } }],
    });
    assert.match((json as WireState).result?.stdout ?? "", /failed: not_found .*no such row/);
  });

  test("a result may be given as value (the library's name) or content (Anthropic's), never both", async () => {
    const code = ["import asyncio", "print(await asyncio.gather(lookup(q='x'), lookup(q='y')))"].join("\n");
    const paused = await execute(server, { code, tools: [clientTool("lookup")] });
    const byQ = new Map(paused.pending_tool_calls.map((pending) => [pending.input.q, pending.id]));
    const path = `/v1/executions/${paused.id}/tool_results`;
    for (const item of [{ value: 1, content: 1 }, { value: 1, error: { message: "no" } }, {}]) {
      const bad = await call(server, "POST", path, { results: [{ call_id: byQ.get("x"), ...item }] });
      assert.equal(bad.status, 400, JSON.stringify(item));
      assert.match((bad.json as WireError).error.message, /give exactly one of value, content or error/);
    }
    const { json } = await call(server, "POST", path, {
      results: [
        { call_id: byQ.get("x"), value: { rows: [1, 2] } },
        { call_id: byQ.get("y"), content: null },
      ],
    });
    const state = json as WireState;
    assert.deepEqual(
      state.submitted?.map((item) => item.status),
      ["accepted", "accepted"],
    );
    assert.equal(state.result?.stdout, "[{'rows': [1, 2]}, None]\n");
  });

  test("DELETE cancels a paused execution", async () => {
    const paused = await execute(server, {
      code: "await lookup(q='x')\nprint('never')",
      tools: [clientTool("lookup")],
    });
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
    const state = await execute(server, {
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
    const paused = await execute(server, {
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

  test("Last-Event-ID resumes after that position; an empty or malformed one replays from the start", async () => {
    const finished = await execute(server, { code: "print('one')\nprint('two')" });
    const stream = async (lastEventId: string) => {
      const response = await server.app.request(`/v1/executions/${finished.id}/events`, {
        headers: { "x-api-key": KEY_A, "last-event-id": lastEventId },
      });
      return [...(await response.text()).matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    };
    const all = await stream("");
    assert.equal(all[0], 0, "an empty Last-Event-ID is not position 0");
    assert.deepEqual(await stream("junk"), all);
    assert.deepEqual(await stream("1"), all.slice(2));
  });
});
