import assert from "node:assert/strict";
import { test } from "node:test";
import { callToolDirectly } from "../../src/engine/direct-tool-call.js";
import { createEngine } from "../../src/engine/engine.js";
import { DEFAULT_MAX_EXECUTION_DEPTH, runAtExecutionDepth } from "../../src/engine/execution-depth.js";
import { PtcError } from "../../src/protocol/errors.js";
import { ToolRegistry } from "../../src/tools/tool-registry.js";
import { delay } from "../helpers/engine.js";
import {
  assertCompleted,
  assertFailedWith,
  assertNoHostLeak,
  type Harness,
  startHarness,
  underAttack,
  type WireExecution,
} from "./harness.js";
import { boundaryTools, leakyMessage, SECRETS } from "./tool-boundary-tools.js";

/**
 * The tool boundary: what a script sends to host tools, and what host tools send back. Each case names
 * the protection it exercises; every case also gets the harness's checks (benign execution beside it,
 * /health, no orphan sandbox, no secret in responses or logs).
 */

let harness: Harness;
const { seen, tools } = boundaryTools(() => harness);
// Depth 3 keeps the recursion case to three sandboxes; the default is checked separately.
harness = await startHarness({ tools, engine: { maxExecutionDepth: 3 } });

const lines = (state: WireExecution) => state.result?.stdout.trim().split("\n") ?? [];

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

test("a 100 MB argument is refused in the sandbox with a catchable tool_input_too_large, the handler never runs and the host never holds it", async () => {
  // Protections: the child's size check before a call is framed (child.ts callTool) and the broker's
  // byte-based check (tool-call-broker.ts), which a raw bridge call with multi-byte text reaches.
  await underAttack(harness, async () => {
    const rssBefore = process.memoryUsage().rss;
    const state = await harness.execute({
      code: [
        "import _ptc_bridge",
        "big = 'x' * 100_000_000",
        "try:",
        "    await sink(data=big)",
        "except ToolError as error:",
        "    print('stub', error.code)",
        "    refused = error",
        "reply = await _ptc_bridge.call('sink', '{\"data\": \"' + big + '\"}')",
        "print('raw', json.loads(reply[1:])['code'])",
        "raise refused",
      ].join("\n"),
      limits: { wall_timeout_ms: 30_000 },
    });
    const grown = process.memoryUsage().rss - rssBefore;
    await assertFailedWith(harness, state, "tool_input_too_large");
    assert.deepEqual(lines(state), ["stub tool_input_too_large", "raw tool_input_too_large"]);
    assert.ok(grown < 250 * 1_048_576, `host RSS grew by ${Math.round(grown / 1_048_576)} MB`);

    // Under the limit in UTF-16 units, over it in bytes: only the host's byte count refuses it.
    const multiByte = await harness.execute({
      code: "import _ptc_bridge\nprint(await _ptc_bridge.call('sink', '{\"d\": \"' + '€' * 400_000 + '\"}'))",
      limits: { max_tool_input_bytes: 1_000_000, wall_timeout_ms: 10_000 },
    });
    const result = await assertCompleted(harness, multiByte);
    assert.match(result.stdout, /^0.*"code":"tool_input_too_large"/);
    assert.equal(result.tool_calls[0]?.error?.code, "tool_input_too_large");
    assert.equal(seen.sink, 0, "the handler never ran");
  });
});

test("__proto__, constructor and prototype keys reach the handler as plain own data and pollute nothing on the host", async () => {
  // Protection: inputs are JSON.parse'd and passed on as parsed, never merged into another object
  // (tool-registry.ts checkCodeCall), and Ajv checks own properties only.
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  await underAttack(harness, async () => {
    seen.echo.length = 0;
    const state = await harness.execute({
      code: [
        "import _ptc_bridge",
        "r = await echo(**{'__proto__': {'polluted': 'yes'}, 'constructor': {'prototype': {'polluted': 'yes'}},",
        "                  'prototype': {'polluted': 'yes'}, 'nested': {'__proto__': {'isAdmin': True}}})",
        "print(sorted(r), r['__proto__'])",
        'print((await _ptc_bridge.call(\'echo\', \'{"__proto__": {"polluted": "raw"}}\'))[1:])',
      ].join("\n"),
    });
    const result = await assertCompleted(harness, state);
    assert.deepEqual(lines(state), [
      "['__proto__', 'constructor', 'nested', 'prototype'] {'polluted': 'yes'}",
      '{"__proto__":{"polluted":"raw"}}',
    ]);
    assert.equal(seen.echo.length, 2);
    for (const input of seen.echo) {
      assert.equal(Object.getPrototypeOf(input), Object.prototype, "a plain object");
      assert.ok(Object.hasOwn(input, "__proto__"), "__proto__ is an own data key");
      assert.equal((input as { polluted?: unknown }).polluted, undefined);
    }
    assert.ok(Object.hasOwn(result.tool_calls[0]?.input ?? {}, "__proto__"), "the record keeps the key as data");
  });
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore);
});

test("numbers JSON cannot carry exactly, nesting past the limit and fields a closed schema forbids are refused with invalid_tool_input naming the field", async () => {
  // Protections: inspectToolInput (src/tools/input-guard.ts, applied in ToolRegistry.validateInput):
  // unsafe integers, non-finite numbers, depth; the guest's allow_nan=False encoder; Ajv for the schema.
  await underAttack(harness, async () => {
    seen.echo.length = 0;
    seen.strict = 0;
    const state = await harness.execute({
      code: [
        "import _ptc_bridge",
        "async def attempt(label, call):",
        "    try:",
        "        print(label, 'ok', await call)",
        "    except ToolError as error:",
        "        print(label, error.code, error)",
        "await attempt('nan', echo(a=float('nan')))",
        "await attempt('inf', echo(a=float('-inf')))",
        "await attempt('big', echo(count=2**64))",
        "await attempt('neg', echo(nested={'n': [-(2**53) - 1]}))",
        "await attempt('extra', strict_tool(a=1, extra=2))",
        "await attempt('open', echo(a=1, extra=2))",
        "await attempt('exact', echo(i=2**53 - 1, f=1e300, g=6.02e23, s='18446744073709551616'))",
        "for label, text in [('raw-nan', '{\"a\": NaN}'), ('raw-1e400', '{\"a\": 1e400}'),",
        "                    ('raw-deep', '{\"a\": ' + '[' * 100_000 + ']' * 100_000 + '}')]:",
        "    print(label, await _ptc_bridge.call('echo', text))",
        "await strict_tool(a=2**64)",
      ].join("\n"),
      limits: { wall_timeout_ms: 15_000 },
    });
    const result = await assertFailedWith(harness, state, "invalid_tool_input");
    const out = lines(state);
    assert.match(out[0] ?? "", /^nan invalid_tool_input .*not JSON-serializable/);
    assert.match(out[1] ?? "", /^inf invalid_tool_input /);
    assert.match(out[2] ?? "", /^big invalid_tool_input .*count: integer 18446744073709551616 is outside/);
    assert.match(out[3] ?? "", /^neg invalid_tool_input .*nested\.n\[0\]: integer -9007199254740993 is outside/);
    assert.match(out[4] ?? "", /^extra invalid_tool_input .*additional properties \("extra"\)/);
    assert.equal(out[5], "open ok {'a': 1, 'extra': 2}", "without additionalProperties: false, extra fields pass");
    assert.equal(out[6], "exact ok {'i': 9007199254740991, 'f': 1e+300, 'g': 6.02e+23, 's': '18446744073709551616'}");
    assert.match(out[7] ?? "", /^raw-nan 0.*invalid_tool_input.*not valid JSON/);
    assert.match(out[8] ?? "", /^raw-1e400 0.*invalid_tool_input.*a: number out of range/);
    assert.match(out[9] ?? "", /^raw-deep 0.*invalid_tool_input.*nested deeper than 128 levels/);
    assert.equal(seen.strict, 0, "the closed schema's handler never ran");
    assert.deepEqual(
      seen.echo.map((input) => Object.keys(input).join()),
      ["a,extra", "i,f,g,s"],
    );
    // The record shows each refusal; the over-deep input is not kept (it could not be serialised again).
    const refused = result.tool_calls.filter((call) => call.error?.code === "invalid_tool_input");
    assert.equal(refused.length, 7);
    assert.deepEqual(refused.at(-2)?.input, {});
  });
});

test("a tool not allowed from code is unreachable by every path: its stub, raw bridge, other spellings, a shadowing client tool", async () => {
  // Protections: a direct-only tool is known in the sandbox by name only, as a stub that raises without
  // calling (guest.py _install_tools): the model saw the tool, so the script may name it. The broker checks
  // every call by exact name against the code-callable tools (ToolRegistry.checkCodeCall) and refuses it.
  await underAttack(harness, async () => {
    const spellings = [
      "admin_reset",
      "Admin_Reset",
      "ADMIN_RESET",
      "admin-reset",
      "admin\u200breset",
      "\u0430dmin_reset",
      "admin_reset\u0000",
      " admin_reset",
    ];
    const probe = [
      "import _ptc_bridge",
      "print('globals', 'admin_reset' in globals(), 'admin_reset' in dir(__builtins__))",
      "try:",
      "    await admin_reset(confirm=True)",
      "except ToolError as error:",
      "    print('stub', error.code, error)",
      `for name in ${JSON.stringify(spellings)}:`,
      "    print(repr(name), json.loads((await _ptc_bridge.call(name, '{}'))[1:])['code'])",
    ].join("\n");
    const state = await harness.execute({ code: probe });
    const result = await assertCompleted(harness, state);
    const out = lines(state);
    const stub = 'stub tool_not_allowed admin_reset is not callable from code: allowed_callers is ["direct"]';
    assert.deepEqual(out.slice(0, 2), ["globals True False", stub]);
    assert.match(out[2] ?? "", /'admin_reset' tool_not_allowed/);
    for (const line of out.slice(3)) assert.match(line, /tool_not_found$/);
    // The stub sent nothing: only the raw calls reached the host, which refused each one.
    assert.equal(result.tool_calls.length, spellings.length);
    assert.ok(result.tool_calls.every((call) => call.resolved_by === "host" && !call.ok));

    // A client tool of the same name is dropped: the server's direct-only tool stays unreachable.
    const shadowed = await harness.execute({
      code: probe,
      container: state.container_id,
      tools: [{ name: "admin_reset", input_schema: { type: "object" } }],
    });
    assert.deepEqual(lines(shadowed).slice(0, 3), ["globals True False", stub, "'admin_reset' tool_not_allowed"]);
    await assertCompleted(harness, shadowed);
    // One that would take the same Python name is refused before anything runs.
    const collision = await harness.request("POST", "/v1/executions", {
      code: "print(await admin_reset())",
      tools: [{ name: "admin-reset", input_schema: { type: "object" } }],
    });
    assert.equal(collision.status, 400);
    assert.equal((collision.json as { error: { code: string } }).error.code, "invalid_request");
    assert.equal(seen.adminReset, 0, "the direct-only handler never ran");
  });
});

test("a handler that never returns ends in tool_timeout at tool_timeout_ms; the script catches ToolTimeoutError and TimeoutError and goes on; the handler's signal is aborted", async () => {
  // Protection: the broker's per-call timer (ToolCallBroker #arm), which aborts the handler's signal.
  await underAttack(harness, async () => {
    seen.hangSignals.length = 0;
    const state = await harness.execute({
      code: [
        "try:",
        "    await hang()",
        "except ToolTimeoutError as error:",
        "    print('caught ToolTimeoutError', error.code)",
        "try:",
        "    await hang()",
        "except TimeoutError:",
        "    print('caught TimeoutError')",
        "print('goes on', (await double(n=21))['doubled'])",
        "await hang()",
      ].join("\n"),
      limits: { tool_timeout_ms: 300, wall_timeout_ms: 15_000 },
    });
    const result = await assertFailedWith(harness, state, "tool_timeout");
    assert.deepEqual(lines(state), ["caught ToolTimeoutError tool_timeout", "caught TimeoutError", "goes on 42"]);
    assert.ok(result.limits_hit.includes("tool_timeout"));
    assert.equal(result.tool_calls.filter((call) => call.error?.code === "tool_timeout").length, 3);
    assert.equal(seen.hangSignals.length, 3);
    for (const signal of seen.hangSignals) {
      assert.ok(signal.aborted, "the handler's signal is aborted");
      assert.ok(PtcError.is(signal.reason, "tool_timeout"));
    }
  });
});

test("a handler error carrying keys, tokens, passwords, an environment secret and a stack reaches the script, the record and the events redacted", async () => {
  // Protection: redactSecrets (src/engine/redact-secrets.ts) applied where a handler's error becomes
  // a tool failure (tool-failure.ts handlerFailure, used by the broker and by direct calls).
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "try:",
        "    await leaky()",
        "except ToolError as error:",
        "    print(error.code, str(error))",
        "await leaky()",
      ].join("\n"),
    });
    const result = await assertFailedWith(harness, state, "tool_error");
    const events = await harness.request("GET", `/v1/executions/${state.id}/events`);
    const direct = await callToolDirectly(
      ToolRegistry.from([
        {
          name: "leaky",
          inputSchema: { type: "object" },
          handler: () => {
            throw new Error(leakyMessage());
          },
        },
      ]),
      "leaky",
      {},
      { callId: "c1", executionId: "e1", timeoutMs: 5_000 },
    ).then(
      () => assert.fail("the direct call must fail"),
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const reported = {
      stdout: result.stdout,
      record: JSON.stringify(result),
      events: events.text,
      direct,
      logs: harness.logs.join("\n"),
    };
    for (const [where, text] of Object.entries(reported)) {
      for (const [name, secret] of Object.entries(SECRETS))
        assert.ok(!text.includes(secret), `${name} leaked in ${where}`);
      assertNoHostLeak(text);
    }
    assert.match(result.stdout, /^tool_error upstream refused the request with key \[REDACTED\]/);
    assert.match(result.stdout, /Authorization: Bearer \[REDACTED\]/);
    assert.match(result.stdout, /postgres:\/\/\[REDACTED\]@db\.internal:5432\/app password=\[REDACTED\]/);
    assert.match(direct, /git clone failed with token \[REDACTED\]/);
    assert.match(result.tool_calls[0]?.error?.message ?? "", /\[REDACTED\]/);
    assert.match(events.text, /event: tool-result[\s\S]*\[REDACTED\]/);
  });
});

test("a handler returning a cycle, a BigInt, a 100,000-deep object, a function, a symbol or a throwing toJSON gives the script a ToolError; undefined gives None", async () => {
  // Protection: the broker serialises results in a try (ToolCallBroker #encodeValue) and maps the
  // failure to a ToolError (tool-failure.ts unserializableResult), the stack overflow included.
  await underAttack(harness, async () => {
    const kinds = ["cyclic", "bigint", "deep", "function", "symbol", "tojson"];
    const state = await harness.execute({
      code: [
        `for kind in ${JSON.stringify(kinds)}:`,
        "    try:",
        "        print(kind, 'value', await weird(kind=kind))",
        "    except ToolError as error:",
        "        print(kind, error.code, error)",
        "print('undefined', await weird(kind='undefined'))",
        "await weird(kind='cyclic')",
      ].join("\n"),
    });
    await assertFailedWith(harness, state, "tool_error");
    assert.deepEqual(lines(state), [
      "cyclic tool_error tool result contains a circular reference",
      "bigint tool_error tool result contains a BigInt, which is not JSON",
      "deep tool_error tool result nests too deeply to serialize as JSON",
      "function tool_error tool result is a function, which is not JSON",
      "symbol tool_error tool result is a symbol, which is not JSON",
      "tojson tool_error tool result is not JSON-serializable: serializer failed for token [REDACTED]",
      "undefined None",
    ]);
  });
});

test("a handler returning a 60 MB string fails that call with tool_result_too_large; under a raised limit the script gets it whole", async () => {
  // Protection: maxToolResultBytes, checked before the result is serialised (tool-result-encoding.ts).
  // Under a limit that admits it, the result crosses as one frame and is parsed once, in Python; the
  // host's token count of tool results is bounded (token-counter.ts).
  await underAttack(harness, async () => {
    const refused = await harness.execute({
      code: "text = await huge()\nprint(len(text), text[:3])",
      limits: { wall_timeout_ms: 30_000 },
      wait: 20,
    });
    const result = await assertFailedWith(harness, refused, "tool_result_too_large");
    assert.ok(result.limits_hit.includes("tool_result_too_large"));
    const raised = createEngine({
      pool: { size: 0 },
      tools: tools.filter((tool) => tool.name === "huge"),
      limits: { maxToolResultBytes: 64_000_000, maxTotalToolResultBytes: 64_000_000 },
    });
    try {
      const whole = await raised.execute({ code: "text = await huge()\nprint(len(text), text[:3])" }).result;
      assert.equal(whole.stdout, "60000000 xxx\n");
    } finally {
      await raised.close();
    }
  });
});

test("a handler that re-enters ptc is bounded by the execution depth limit; a single legitimate re-entry returns its output", async () => {
  // Protection: the engine refuses an execute() nested deeper than maxExecutionDepth (engine.ts), the
  // depth carried through handlers by AsyncLocalStorage (execution-depth.ts, ToolCallBroker #start).
  await underAttack(harness, async () => {
    const once = await harness.execute({ code: "print('nested', await nested_once())" });
    await assertCompleted(harness, once);
    assert.equal(once.result?.stdout, "nested 42\n");

    seen.reentries = 0;
    const state = await harness.execute({ code: "print(await recurse())", limits: { wall_timeout_ms: 60_000 } });
    const result = await assertFailedWith(harness, state, "execution_depth_limit");
    assert.equal(seen.reentries, 3, "one handler per allowed level, then the refusal");
    assert.equal(result.tool_calls[0]?.error?.code, "execution_depth_limit");
    // The limit as configured here (3), and the default engines get.
    assert.equal(DEFAULT_MAX_EXECUTION_DEPTH, 4);
    assert.throws(
      () => runAtExecutionDepth(3, () => harness.engine.execute({ code: "pass" })),
      (error: unknown) => PtcError.is(error, "execution_depth_limit"),
    );
  });
});

test("a handler that resolves after its execution timed out or was cancelled is ignored: the records keep the stop, nothing crashes", async () => {
  // Protection: the broker drops a settlement for a call it no longer holds (ToolCallBroker #settle
  // after close), and close() aborts every live handler's signal.
  await underAttack(harness, async () => {
    seen.late = { started: 0, resolved: 0, signals: [] };
    // In a container that already has its sandbox, so the wall clock is not spent waiting for one.
    const warm = await harness.execute({ code: "pass" });
    const timedOut = await harness.execute({
      code: "print(await late(ms=2_500))",
      container: warm.container_id,
      limits: { wall_timeout_ms: 1_000 },
    });
    await assertFailedWith(harness, timedOut, "wall_timeout");

    const running = await harness.execute({ code: "print(await late(ms=1_500))", wait: 0 });
    await waitFor(() => seen.late.started === 2, "the second handler to start");
    const cancelled = await harness.request("DELETE", `/v1/executions/${running.id}`);
    await assertFailedWith(harness, cancelled.json as WireExecution, "cancelled", "cancelled");

    await waitFor(() => seen.late.resolved === 2, "both late handlers to resolve");
    await delay(100);
    for (const [id, code] of [
      [timedOut.id, "wall_timeout"],
      [running.id, "cancelled"],
    ] as const) {
      const record = await harness.record(id);
      assert.equal(record.result?.error?.code, code, "the late result changed nothing");
      assert.equal(record.result?.tool_calls[0]?.ok, false);
      assert.equal(record.result?.stdout, "");
    }
    assert.ok(
      seen.late.signals.every((signal) => signal.aborted),
      "each handler saw the abort",
    );
  });
});

test("a handler that throws a string, null, undefined, a number, an object with a throwing toJSON, a throwing message getter or a hostile Proxy gives a ToolError", async () => {
  // Protection: tool-failure.ts handlerFailure reads a thrown value defensively (a throwing getter or
  // Proxy trap would otherwise be an unhandled rejection in the broker, which ends the host process).
  await underAttack(harness, async () => {
    const kinds = ["string", "null", "undefined", "number", "tojson", "getter", "proxy"];
    const state = await harness.execute({
      code: [
        `for kind in ${JSON.stringify(kinds)}:`,
        "    try:",
        "        await odd_throw(kind=kind)",
        "    except ToolError as error:",
        "        print(kind, error.code, error)",
        "await odd_throw(kind='proxy')",
      ].join("\n"),
    });
    await assertFailedWith(harness, state, "tool_error");
    assert.deepEqual(lines(state), [
      "string tool_error plain string with [REDACTED]",
      "null tool_error the tool failed (it threw null)",
      "undefined tool_error the tool failed (it threw undefined)",
      "number tool_error the tool failed (it threw number 42)",
      "tojson tool_error the tool failed (it threw a value that is not an Error)",
      "getter tool_error the tool failed (its error could not be read)",
      "proxy tool_error the tool failed (its error could not be read)",
    ]);
  });
});
