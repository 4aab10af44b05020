import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { delay } from "../helpers/engine.js";
import {
  assertCompleted,
  type Harness,
  isAlive,
  KEY,
  OTHER_KEY,
  startHarness,
  underAttack,
  type WireErrorBody,
  type WireExecution,
} from "./harness.js";

/**
 * Isolation between containers: a hostile script in one container cannot change what a script in
 * another container sees (same key or another key), and one key can neither read nor resume another
 * key's executions: every such request gets exactly the 404 an unknown id gets.
 */

let harness: Harness;

/** A client tool: no handler on the server, so a call pauses the script until its owner answers. */
const APPROVE = { name: "approve", description: "asks the client", input_schema: { type: "object" } };

/** Everything container A does to its own interpreter, JS realm and filesystem. */
const POLLUTE = [
  "import asyncio, builtins, json, os, sys, js, _ptc_bridge, __main__",
  "from pyodide.ffi import create_proxy",
  "os.makedirs('/home/pyodide', exist_ok=True)",
  "for path in ('/tmp/x', '/home/pyodide/x'):",
  "    with open(path, 'w') as f:",
  "        f.write('A')",
  "os.environ['PTC_POLLUTED'] = 'A'",
  "POLLUTED = 'A'",
  "double = lambda **k: 'evil'",
  "__main__._bridge_call = lambda *a: 'evil'",
  "_ptc_bridge.call = create_proxy(lambda *a: 'evil')",
  "js.Object.prototype.polluted = 'A'",
  "js.Math.random = create_proxy(lambda: 7)",
  "json.loads = lambda *a, **k: 'evil'",
  // len() wrong for the probe's list only: the runtime's own uses of len must keep working.
  "_len = builtins.len",
  "builtins.len = lambda x: 42 if type(x) is list and x == [1, 2, 3] else _len(x)",
  "sys.stdout.write('polluted\\n')",
  "builtins.print = lambda *a, **k: None",
].join("\n");

/** Container A keeps at it while the other containers run: nothing it does may reach them. */
const HAUNT = [
  "import asyncio, builtins, os",
  "while True:",
  "    for path in ('/tmp/x', '/home/pyodide/x'):",
  "        with open(path, 'w') as f:",
  "            f.write('A')",
  "    builtins.print = lambda *a, **k: None",
  "    await asyncio.sleep(0.01)",
].join("\n");

/** What a clean container sees; every value must be True. */
const CHECK = [
  "import builtins, json, os, sys, js",
  "checks = {",
  "    'print': print is builtins.print and type(print).__name__ == 'builtin_function_or_method',",
  "    'len': len([1, 2, 3]) == 3,",
  "    'json.loads': json.loads('{\"a\": 1}') == {'a': 1},",
  "    'double': (await double(n=21)) == {'doubled': 42},",
  "    '/tmp/x': not os.path.exists('/tmp/x'),",
  "    '/home/pyodide/x': not os.path.exists('/home/pyodide/x'),",
  "    'globals': 'POLLUTED' not in globals(),",
  "    'environ': 'PTC_POLLUTED' not in os.environ,",
  "    'js prototype': not hasattr(js.Object.new(), 'polluted'),",
  "    'Math.random': js.Math.random() < 1,",
  "}",
  "print(json.dumps(checks))",
].join("\n");

function unknownId(prefix: "exec" | "ctr"): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}

/** A 404 body with the id it names taken out: another key's id must be answered like an unknown one. */
function notFoundBody(response: { status: number; json: unknown; text: string }, id: string): string {
  assert.equal(response.status, 404, response.text);
  const body = response.json as WireErrorBody;
  assert.equal(body.error.code, "not_found");
  return response.text.replaceAll(id, "<id>");
}

/** Ends a container of `key` (underAttack ends KEY's only) and checks its sandbox died with it. */
async function endContainerOf(key: string, containerId: string): Promise<void> {
  const pid = harness.engine.inspectContainer(containerId)?.sandboxPid;
  const { status } = await harness.request("DELETE", `/v1/containers/${containerId}`, undefined, key);
  assert.equal(status, 200);
  harness.containers.delete(containerId);
  for (let waited = 0; pid !== undefined && isAlive(pid) && waited < 5_000; waited += 20) await delay(20);
  assert.ok(pid === undefined || !isAlive(pid), "the container's sandbox was killed");
}

/** Each request with `key` on another key's `realId` answers exactly what it answers for an unknown id. */
async function assertAnsweredAsUnknown(
  requests: Array<[method: string, path: (id: string) => string, body?: unknown]>,
  realId: string,
  fakeId: string,
): Promise<void> {
  for (const [method, path, body] of requests) {
    const real = await harness.request(method, path(realId), body, OTHER_KEY);
    const fake = await harness.request(method, path(fakeId), body, OTHER_KEY);
    assert.equal(notFoundBody(real, realId), notFoundBody(fake, fakeId), `${method} ${path("<id>")}`);
  }
}

test("isolation between containers and keys", async (t) => {
  harness = await startHarness();

  // Protection: one sandbox process per container, never shared or reused (container-manager.ts,
  // sandbox-pool.ts "a sandbox leaves the pool for exactly one container").
  await t.test("a container's monkey patches, files and globals never reach a new container of any key", () =>
    underAttack(harness, async () => {
      const a = await harness.execute({ code: POLLUTE, limits: { wall_timeout_ms: 30_000 } });
      assert.equal((await assertCompleted(harness, a)).stdout, "polluted\n");
      // The patches are real and still in force in A, its haunting task running.
      const again = await harness.execute({
        code: "import sys\nsys.stdout.write(f\"{len([1, 2, 3])} {POLLUTED} {open('/tmp/x').read()}\\n\")",
        container: a.container_id,
      });
      assert.equal((await assertCompleted(harness, again)).stdout, "42 A A\n");
      const haunting = await harness.execute({ code: HAUNT, container: a.container_id, wait: 0 });
      for (const key of [KEY, OTHER_KEY]) {
        const clean = await harness.execute({ code: CHECK, limits: { wall_timeout_ms: 30_000 } }, key);
        assert.notEqual(clean.container_id, a.container_id);
        assert.equal(clean.status, "completed", JSON.stringify(clean.result?.error));
        const checks = JSON.parse(clean.result?.stdout ?? "{}") as Record<string, boolean>;
        assert.deepEqual(
          Object.entries(checks).filter(([, ok]) => !ok),
          [],
          `${key === KEY ? "same" : "other"} key: every check holds`,
        );
        assert.equal(Object.keys(checks).length, 10);
        // The tool call went to the real handler, not to anything A planted.
        assert.deepEqual(
          clean.result?.tool_calls.map((call) => [call.name, call.ok, call.resolved_by]),
          [["double", true, "handler"]],
        );
        if (key === OTHER_KEY) await endContainerOf(OTHER_KEY, clean.container_id);
      }
      const stopped = await harness.request("DELETE", `/v1/executions/${haunting.id}`);
      assert.equal((stopped.json as WireExecution).status, "cancelled", "A was still haunting until cancelled");
    }),
  );

  // Protection: ResourceOwners checks in execution-store.ts get() and container-records.ts lookup().
  await t.test("another key cannot read an execution, its events or its container: 404 as for an unknown id", () =>
    underAttack(harness, async () => {
      const owned = await harness.execute({ code: "print('result of the owner')" });
      await assertCompleted(harness, owned);
      await assertAnsweredAsUnknown(
        [
          ["GET", (id) => `/v1/executions/${id}`],
          ["GET", (id) => `/v1/executions/${id}/events`],
          ["POST", (id) => `/v1/executions/${id}/tool_results`, { results: [{ call_id: "call_x", content: 1 }] }],
          ["DELETE", (id) => `/v1/executions/${id}`],
        ],
        owned.id,
        unknownId("exec"),
      );
      await assertAnsweredAsUnknown(
        [
          ["GET", (id) => `/v1/containers/${id}`],
          ["DELETE", (id) => `/v1/containers/${id}`],
        ],
        owned.container_id,
        unknownId("ctr"),
      );
      // Running code in the other key's container is refused like an unknown container too.
      const intoReal = await harness.request(
        "POST",
        "/v1/executions",
        { code: "print(1)", container: owned.container_id },
        OTHER_KEY,
      );
      const fakeContainer = unknownId("ctr");
      const intoFake = await harness.request(
        "POST",
        "/v1/executions",
        { code: "print(1)", container: fakeContainer },
        OTHER_KEY,
      );
      assert.equal(notFoundBody(intoReal, owned.container_id), notFoundBody(intoFake, fakeContainer));
      // Nothing the other key did touched the owner's execution or container.
      const record = await harness.record(owned.id);
      assert.equal(record.status, "completed");
      assert.equal(record.result?.stdout, "result of the owner\n");
      const container = await harness.request("GET", `/v1/containers/${owned.container_id}`);
      assert.equal(container.status, 200, container.text);
    }),
  );

  // Protection: ownership on POST …/tool_results (execution-store.ts get()), and submit() accepting only
  // call ids the execution itself paused on.
  await t.test("another key cannot resume a paused execution; its owner still can", () =>
    underAttack(harness, async () => {
      const code = "r = await approve(order=7)\nprint('approved', r)";
      const owned = await harness.execute({ code, tools: [APPROVE], limits: { wall_timeout_ms: 30_000 } });
      assert.equal(owned.status, "paused", JSON.stringify(owned.result?.error));
      const ownedCall = owned.pending_tool_calls[0]?.id as string;
      const theirs = await harness.execute({ code, tools: [APPROVE], limits: { wall_timeout_ms: 30_000 } }, OTHER_KEY);
      assert.equal(theirs.status, "paused");
      const theirCall = theirs.pending_tool_calls[0]?.id as string;
      const forged = { results: [{ call_id: ownedCall, content: { by: "attacker" } }], wait: 5 };

      await assertAnsweredAsUnknown(
        [["POST", (id) => `/v1/executions/${id}/tool_results`, forged]],
        owned.id,
        unknownId("exec"),
      );
      // The owner's call id submitted to the attacker's own paused execution is an unknown call there.
      const crossed = await harness.request("POST", `/v1/executions/${theirs.id}/tool_results`, forged, OTHER_KEY);
      assert.equal(crossed.status, 400, crossed.text);
      assert.equal((crossed.json as WireErrorBody).error.code, "unknown_tool_call");
      const theirsNow = (await harness.request("GET", `/v1/executions/${theirs.id}`, undefined, OTHER_KEY))
        .json as WireExecution;
      assert.equal(theirsNow.status, "paused");
      assert.deepEqual(
        theirsNow.pending_tool_calls.map((call) => call.id),
        [theirCall],
      );

      // The owner's execution is still paused on the same call, and resumes with the owner's answer only.
      const before = await harness.record(owned.id);
      assert.equal(before.status, "paused");
      assert.deepEqual(
        before.pending_tool_calls.map((call) => call.id),
        [ownedCall],
      );
      const resumed = await harness.request("POST", `/v1/executions/${owned.id}/tool_results`, {
        results: [{ call_id: ownedCall, content: { by: "owner" } }],
        wait: 30,
      });
      assert.equal(resumed.status, 200, resumed.text);
      const done = resumed.json as WireExecution;
      const result = await assertCompleted(harness, done);
      assert.equal(result.stdout, "approved {'by': 'owner'}\n");
      assert.deepEqual(
        result.tool_calls.map((call) => [call.id, call.ok, call.resolved_by]),
        [[ownedCall, true, "caller"]],
      );

      // The other key's execution is untouched too: it resumes with its own answer.
      const theirsDone = await harness.request(
        "POST",
        `/v1/executions/${theirs.id}/tool_results`,
        { results: [{ call_id: theirCall, content: { by: "them" } }], wait: 30 },
        OTHER_KEY,
      );
      assert.equal((theirsDone.json as WireExecution).result?.stdout, "approved {'by': 'them'}\n");
      await endContainerOf(OTHER_KEY, theirs.container_id);
    }),
  );
});
