import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { codeTool, delay } from "../helpers/engine.js";
import { startHarness, underAttack } from "./harness.js";
import {
  assertCompletedJs,
  assertFailedJs,
  assertNothingLeftBehind,
  GUEST_ERROR,
  runJs,
} from "./javascript-helpers.js";
import { assertSandboxGone, countingTool, hostRss } from "./resources-helpers.js";

/**
 * Resource attacks from guest JavaScript: loops, microtask floods, memory bombs of every shape, recursion,
 * output floods, promise and timer floods, tool-call floods, and errors built to break their own report.
 * Each ends with its stable code (or the exact documented behaviour) in bounded time, the host stays
 * flat and answers, and a later execution works and sees nothing of it.
 */

const counting = countingTool();
const echo = codeTool("echo", (input) => input);
const harness = await startHarness({ tools: [counting.tool, echo] });

/** Generous: a sandbox's whole output cap, a parsed copy, and noise from the other cases running. */
const HOST_RSS_BOUND = 160 * 1_048_576;

/** A container whose sandbox is up (a JavaScript execution ran in it), and that sandbox's pid. */
async function liveContainer(name: string): Promise<{ container: string; pid: number }> {
  const container = `${name}-${process.pid}`;
  assertCompletedJs(await runJs(harness, { code: "text('up')", container }));
  const pid = harness.engine.inspectContainer(container)?.sandboxPid;
  assert.ok(pid, "the container has a live sandbox");
  return { container, pid };
}

/** The container works after the attack, and says whether its sandbox was replaced. */
async function assertContainerWorks(container: string, reset: boolean): Promise<void> {
  const next = assertCompletedJs(await runJs(harness, { code: "text(6 * 7)", container }));
  assert.equal(next.stdout, "42");
  assert.equal(next.containerReset, reset, "containerReset says whether the sandbox was replaced");
  harness.engine.closeContainer(container);
}

describe("JavaScript resources: time", () => {
  // Protection: QuickJS runs synchronously in the child; only the host's deadlines end it, by SIGKILL.
  test("a busy loop, a microtask flood and catastrophic regex backtracking are killed at the active-time deadline", () =>
    underAttack(harness, async () => {
      const attacks = [
        "while (true) {}",
        "for (;;) await null;",
        "const spin = () => Promise.resolve().then(spin); spin(); await new Promise(() => {});",
        "/(a+)+$/.test('a'.repeat(64) + 'b');",
      ];
      await Promise.all(
        attacks.map(async (code, index) => {
          const { container, pid } = await liveContainer(`js-busy-${index}`);
          const result = await runJs(harness, {
            code: `text('started');\n${code}`,
            container,
            limits: { activeTimeoutMs: 1_500, wallTimeoutMs: 30_000 },
          });
          assertFailedJs(result, "active_timeout");
          assert.ok(result.limitsHit.includes("active_timeout"));
          assert.equal(result.stdout, "started", "what it wrote before is kept");
          await assertSandboxGone(pid);
          await assertContainerWorks(container, true);
        }),
      );
    }));

  // Protection: the wall timer. A script waiting on a promise nothing settles uses no CPU.
  test("a promise that never settles, and a timer past the deadline, end at the wall deadline", () =>
    underAttack(harness, async () => {
      const limits = { wallTimeoutMs: 2_000, activeTimeoutMs: 1_000 };
      const [forever, timer] = await Promise.all([
        runJs(harness, { code: "await new Promise(() => {});", limits }),
        runJs(harness, { code: "await new Promise((resolve) => setTimeout(resolve, 2 ** 40));", limits }),
      ]);
      assertFailedJs(forever, "wall_timeout");
      assertFailedJs(timer, "wall_timeout");
      await assertNothingLeftBehind(harness);
    }));

  // Protection: each run has its own timers (child-timers.ts), cancelled when it ends.
  test("a timer left behind never fires into the next execution of the container", () =>
    underAttack(harness, async () => {
      const { container } = await liveContainer("js-late-timer");
      const first = await runJs(harness, {
        code: "setTimeout(() => { globalThis.late = 1; text('LATE'); }, 100); text('first');",
        container,
      });
      assert.equal(assertCompletedJs(first).stdout, "first");
      const second = await runJs(harness, {
        code: "await new Promise((resolve) => setTimeout(resolve, 400)); text(typeof globalThis.late);",
        container,
      });
      assert.equal(assertCompletedJs(second).stdout, "undefined");
      await delay(100);
      await assertContainerWorks(container, false);
    }));
});

describe("JavaScript resources: determinism", () => {
  // Protection: Math.random is seeded per container (container-manager.ts, js-guest-globals.ts), so a replay or
  // a re-run draws the same numbers and makes the same calls; Date is the real clock.
  test("Math.random repeats within a container (what a replay draws) and differs between containers; Date is the clock", () =>
    underAttack(harness, async () => {
      const code = "text(JSON.stringify([Math.random(), Math.random(), Date.now()]));";
      const { container } = await liveContainer("js-random-a");
      const other = await liveContainer("js-random-b");
      const [a1, a2, b] = [
        assertCompletedJs(await runJs(harness, { code, container })),
        assertCompletedJs(await runJs(harness, { code, container })),
        assertCompletedJs(await runJs(harness, { code, container: other.container })),
      ].map((result) => JSON.parse(result.stdout) as [number, number, number]);
      assert.ok(a1 && a2 && b);
      assert.deepEqual(a1.slice(0, 2), a2.slice(0, 2), "the same container draws the same numbers");
      assert.notDeepEqual(a1.slice(0, 2), b.slice(0, 2), "another container draws others");
      assert.ok(a1[0] >= 0 && a1[0] < 1 && a1[0] !== a1[1]);
      assert.ok(Math.abs(a1[2] - Date.now()) < 60_000, "Date.now is the real clock");
      harness.engine.closeContainer(other.container);
      harness.engine.closeContainer(container);
    }));
});

describe("JavaScript resources: memory", () => {
  // Protection: every wasm memory of the child is capped at memoryBytes (child-memory-cap.ts): QuickJS's
  // allocation fails, the child reports the cap's refusal as memory_limit; the host never holds guest memory.
  test("strings, arrays, typed arrays and promises without end stop at memory_bytes (memory_limit); host RSS stays flat", () =>
    underAttack(harness, async () => {
      const before = hostRss();
      const limits = { memoryBytes: 128 * 1_048_576, wallTimeoutMs: 60_000 };
      const bombs = [
        // Distinct strings: one doubling string stops at QuickJS's length limit (2**30) before memory does.
        "const keep = []; for (let i = 0; ; i++) keep.push('x'.repeat(1_000_000) + i);",
        "const a = []; for (;;) a.push(new Array(100_000).fill(1.5));",
        "const b = []; for (;;) b.push(new Uint8Array(10_000_000).fill(7));",
        "const p = []; for (;;) p.push(new Promise(() => {}));",
        "const o = {}; for (let i = 0; ; i++) o['k' + i] = { i };",
      ];
      const results = await Promise.all(bombs.map((code) => runJs(harness, { code, limits })));
      for (const [index, result] of results.entries()) {
        assert.equal(result.error?.code, "memory_limit", `bomb ${index}: ${JSON.stringify(result.error)}`);
        assertFailedJs(result, "memory_limit");
        assert.ok(result.limitsHit.includes("memory_limit"));
      }
      assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
      await assertNothingLeftBehind(harness);
    }));

  // Protection: one huge allocation is refused at once (QuickJS's RangeError or the cap), and catchable.
  test("a single huge allocation is a catchable error; the script carries on", () =>
    underAttack(harness, async () => {
      const code = [
        "const out = [];",
        "for (const [name, make] of [['ArrayBuffer 2**31', () => new ArrayBuffer(2 ** 31)],",
        "  ['Uint8Array 1e9', () => new Uint8Array(1e9)], ['repeat 2**30', () => 'x'.repeat(2 ** 30)],",
        "  ['Array 2**32', () => new Array(2 ** 32)]]) {",
        "  try { make(); out.push(name + ' allocated'); } catch (e) { out.push(name + ' ' + e.name); }",
        "}",
        "console.log(out.join('\\n'));",
        "text('carried on');",
      ].join("\n");
      const result = assertCompletedJs(await runJs(harness, { code, limits: { memoryBytes: 256 * 1_048_576 } }));
      assert.doesNotMatch(result.stdout, /allocated/);
      assert.match(result.stdout, /carried on$/);
    }));

  // Protection: each execution's QuickJS is a new wasm instance; the last one's memory is garbage, and the
  // sandbox's resident memory is checked on the host against memoryBytes + 512 MiB.
  test("executions that each fill most of memory_bytes, one after another in one container, all complete", () =>
    underAttack(harness, async () => {
      const { container } = await liveContainer("js-refill");
      const code =
        "const b = []; for (let i = 0; i < 20; i++) b.push(new Uint8Array(10_000_000).fill(i)); text(b.length);";
      for (let round = 0; round < 4; round++) {
        const result = await runJs(harness, { code, container, limits: { memoryBytes: 256 * 1_048_576 } });
        assert.equal(assertCompletedJs(result).stdout, "20", `round ${round}`);
      }
      await assertContainerWorks(container, false);
    }));
});

describe("JavaScript resources: recursion", () => {
  // Protection: QuickJS's stack limit (js-guest.ts DEFAULT_JS_STACK_BYTES), far below the child's own stack.
  test("unbounded recursion, deep JSON and deep toString are guest errors, never a crash; the container keeps its sandbox", () =>
    underAttack(harness, async () => {
      const { container, pid } = await liveContainer("js-recursion");
      // JavaScript recursion is caught at QuickJS's own stack limit; the native recursion of JSON and
      // String() on deep nesting overflows V8's stack first, which ends the run (its QuickJS is mid-call).
      const attacks = [
        "const f = () => f() + 1; f();",
        "JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));",
        "let x = []; for (let i = 0; i < 1_000_000; i++) x = [x]; String(x);",
        "let y = {}; for (let i = 0; i < 1_000_000; i++) y = { y }; JSON.stringify(y);",
        "const p = new Proxy({}, { get: (t, k, r) => r[k] }); p.boom;",
      ].map((attack) => `try { ${attack} text('no error'); } catch (e) { text(e.name + ': ' + e.message); }`);
      for (const code of attacks) {
        const result = await runJs(harness, { code, container });
        if (result.status === "completed")
          assert.match(result.stdout, /^(InternalError|RangeError|SyntaxError): .*stack/i, code);
        else {
          assertFailedJs(result, GUEST_ERROR);
          assert.match(result.error?.message ?? "", /stack/, code);
        }
      }
      const uncaught = await runJs(harness, { code: "function f() { return f(); }\nf();", container });
      assertFailedJs(uncaught, GUEST_ERROR);
      assert.match(uncaught.error?.message ?? "", /stack/);
      assert.ok((uncaught.error?.traceback ?? "").length < 10_000, "the traceback is bounded");
      assert.equal(harness.engine.inspectContainer(container)?.sandboxPid, pid, "the same sandbox");
      await assertContainerWorks(container, false);
    }));
});

describe("JavaScript resources: output", () => {
  // Protection: the output cap, in the child and again on the host (Execution#onOutput).
  // 256 MiB rather than Python's gigabyte: each console.log copies its string out of the wasm memory and
  // encodes it before the cap drops it (~30 ms per MiB here).
  test("256 MiB of console.log and a never-yielding text() flood are cut at max_output_bytes (output_limit)", () =>
    underAttack(harness, async () => {
      const before = hostRss();
      // In a container whose sandbox is up: the wall clock then times the script alone.
      const { container } = await liveContainer("js-flood");
      const [gigabyte, flood] = await Promise.all([
        runJs(harness, {
          code: "const mb = 'x'.repeat(2 ** 20); for (let i = 0; i < 256; i++) console.log(mb); console.error('done');",
          limits: { maxOutputBytes: 65_536, wallTimeoutMs: 60_000 },
        }),
        runJs(harness, {
          code: "const chunk = 'y'.repeat(65536); for (;;) text(chunk);",
          container,
          limits: { maxOutputBytes: 262_144, wallTimeoutMs: 2_500, activeTimeoutMs: 30_000 },
        }),
      ]);
      assertCompletedJs(gigabyte);
      assert.ok(gigabyte.limitsHit.includes("output_limit"));
      assert.deepEqual(gigabyte.truncated, { stdout: true, stderr: false });
      assert.equal(gigabyte.stderr, "done\n");
      assert.ok(gigabyte.stdout.startsWith("x".repeat(65_536)));
      assert.ok(gigabyte.stdout.length < 70_000, `stdout of ${gigabyte.stdout.length} characters`);
      assertFailedJs(flood, "wall_timeout");
      assert.ok(flood.limitsHit.includes("output_limit"));
      assert.ok(flood.stdout.startsWith("y".repeat(65_536)), "what it wrote up to the cap reached the host");
      assert.ok(flood.stdout.length < 270_000);
      await assertContainerWorks(container, true);
      assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
    }));
});

describe("JavaScript resources: calls and timers", () => {
  // Protection: maxToolCalls in the child and on the host; maxConcurrentToolCalls throttles on the host.
  test("Promise.all of 100,000 tool calls stops at the tool-call cap (tool_call_limit); the host ran at most the cap", () =>
    underAttack(harness, async () => {
      counting.stats.calls = 0;
      counting.stats.maxRunning = 0;
      const before = hostRss();
      const result = await runJs(harness, {
        code: "const r = await Promise.all(Array.from({ length: 100_000 }, (_, i) => tools.slow_double({ n: i }))); text(r.length);",
        limits: { maxToolCalls: 1_000, wallTimeoutMs: 60_000 },
      });
      assertFailedJs(result, "tool_call_limit");
      assert.ok(result.limitsHit.includes("tool_call_limit"));
      assert.ok(counting.stats.calls <= 1_000, `${counting.stats.calls} handler runs`);
      assert.ok(counting.stats.maxRunning <= 16, `at most the concurrency cap at once: ${counting.stats.maxRunning}`);
      assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
      await assertNothingLeftBehind(harness);
    }));

  // Protection: the guest's timers are the child's Node timers, each tracked (child-timers.ts); their number is
  // bounded only by memory: the guest's own records of them live in its capped wasm memory.
  test("a flood of timers ends with a stable code; the next execution works", () =>
    underAttack(harness, async () => {
      const result = await runJs(harness, {
        code: "for (let i = 0; ; i++) setTimeout(() => {}, 1e9);",
        limits: { memoryBytes: 64 * 1_048_576, wallTimeoutMs: 20_000, activeTimeoutMs: 20_000 },
      });
      assert.equal(result.status, "failed");
      assert.ok(
        ["memory_limit", "active_timeout", "wall_timeout"].includes(result.error?.code ?? ""),
        JSON.stringify(result.error),
      );
      await assertNothingLeftBehind(harness);
    }));
});

describe("JavaScript resources: hostile errors and values", () => {
  // Protection: the prelude reports an uncaught error from its own captured functions; a report that cannot be
  // made (a getter that throws) still ends the run with a structured error, at once.
  test("errors and values with hostile name, message, stack, toString and toJSON end the run at once with a structured error", () =>
    underAttack(harness, async () => {
      const attacks: Array<[string, string]> = [
        [
          "name getter",
          "const e = new Error('x'); Object.defineProperty(e, 'name', { get() { throw new Error('gotcha'); } }); throw e;",
        ],
        [
          "message getter",
          "const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw e; } }); throw e;",
        ],
        ["stack getter", "class E extends Error { get stack() { throw 1; } }; throw new E('x');"],
        ["toString and toJSON", "throw { toString() { throw 1; }, toJSON() { throw 2; } };"],
        ["proxy", "throw new Proxy({}, { get() { throw 1; }, getPrototypeOf() { throw 2; }, has() { throw 3; } });"],
        ["symbol", "throw Symbol('s');"],
        ["null", "throw null;"],
        ["huge message", "throw new Error('m'.repeat(50_000_000));"],
        ["returned value", "return { toJSON() { throw 1; }, toString() { throw 2; } };"],
        ["String replaced", "globalThis.String = () => { throw 1; }; throw new Error('x');"],
        ["then replaced", "Promise.prototype.then = function () { return this; }; throw new Error('x');"],
      ];
      const results = await Promise.all(
        attacks.map(([, code]) => runJs(harness, { code, limits: { wallTimeoutMs: 20_000 } })),
      );
      for (const [index, result] of results.entries()) {
        const [name] = attacks[index] ?? [""];
        assert.equal(result.status, "failed", `${name}: ${result.status}`);
        assert.notEqual(result.error?.code, "wall_timeout", `${name}: the run hung until the wall deadline`);
        assert.equal(result.error?.code, GUEST_ERROR, `${name}: ${JSON.stringify(result.error).slice(0, 300)}`);
        assert.ok((result.error?.message.length ?? 0) <= 100_000, `${name}: a bounded message`);
      }
      await assertNothingLeftBehind(harness);
    }));
});
