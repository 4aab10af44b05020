import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { codeTool, delay } from "../helpers/engine.js";
import { adminResetTool, guestOnlyLoopback } from "./escape-helpers.js";
import { assertNoHostLeak, startHarness, underAttack } from "./harness.js";
import { assertAllBlocked, assertCompletedJs, assertNothingLeftBehind, runJs, step } from "./javascript-helpers.js";

/**
 * Escape attempts from guest JavaScript (QuickJS in the sandbox child, a fresh wasm instance per execution).
 * Each step tries to *use* a host capability (read the environment or a file, start a process, import a
 * module, reach the network, reach the child's `host` bridge object) and prints BLOCKED or ESCAPED; all
 * must be BLOCKED. Inside QuickJS the Function constructor and eval do work: they reach only the guest's
 * own realm, which has none of Node's objects. After each attack, later executions (same container, and
 * one-off ones on the pool's recycled sandboxes, which other keys get) see nothing of it.
 */

const loopback = guestOnlyLoopback();

const seen = { echo: [] as Array<Record<string, unknown>>, adminReset: 0, lateAborted: 0 };
const tools: ToolDefinition[] = [
  // The live sandbox processes of the engine running the call (test-only: which recycled sandbox served it).
  codeTool("whereami", () => reuseEngine?.sandboxPids() ?? []),
  codeTool("late", async (input, context) => {
    await delay(Number(input.ms));
    if (context.signal.aborted) seen.lateAborted++;
    return "late";
  }),
  codeTool("echo", (input) => {
    seen.echo.push(input);
    return input;
  }),
  adminResetTool(() => seen.adminReset++),
];
const harness = await startHarness({ tools });
/** An engine of one warm sandbox: each one-off execution after the first is served by the same process. */
let reuseEngine: Engine | undefined;
after(() => reuseEngine?.close());

async function blocked(steps: Array<[string, string]>, container?: string): Promise<void> {
  const connections = loopback.connections;
  const code = steps.map(([label, body]) => step(label, body.replaceAll("LOOPBACK_URL", loopback.url))).join("\n");
  const result = await runJs(harness, { code, ...(container ? { container } : {}), limits: { wallTimeoutMs: 30_000 } });
  assertAllBlocked(
    result,
    steps.map(([label]) => label),
  );
  assert.equal(loopback.connections, connections, "the loopback server saw a connection from the guest");
}

// Protection: QuickJS has no Node objects at all (its own realm in its own wasm memory); js-guest-globals.ts
// adds only tools, ToolError, text, image, console, setTimeout/clearTimeout.
test("JavaScript: no process, require, Buffer, fetch, std/os or host environment, by name or through constructors and eval", () =>
  underAttack(harness, async () => {
    await blocked([
      ["process", "return process.env.PTC_ADVERSARIAL_SECRET;"],
      ["globalThis.process", "return globalThis.process.env;"],
      ["require", 'return require("fs").readFileSync("/etc/hostname");'],
      ["ctor-process", 'return this.constructor.constructor("return process")().env;'],
      ["ctor-require", 'return ({}).constructor.constructor("return require")()("child_process");'],
      ["Function-this", 'const g = Function("return this")(); return g.process.env;'],
      ["eval", 'return eval("process").env;'],
      ["indirect-eval", 'return (0, eval)("require")("fs");'],
      ["async-ctor", 'return await (async function () {}).constructor("return process.mainModule")();'],
      ["generator-ctor", 'return (function* () {}).constructor("yield require")().next().value("fs");'],
      ["Buffer", 'return Buffer.from("x");'],
      ["fetch", 'return await fetch("LOOPBACK_URL");'],
      ["XMLHttpRequest", 'return new XMLHttpRequest().open("GET", "LOOPBACK_URL");'],
      ["WebSocket", 'return new WebSocket("ws://127.0.0.1:1");'],
      ["WebAssembly", "return WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));"],
      ["std-print", 'return std.loadFile("/etc/hostname");'],
      ["os-exec", 'return os.exec(["id"]);'],
      ["scriptArgs", "return scriptArgs.length;"],
      [
        "global-scan",
        [
          "const host = Reflect.ownKeys(globalThis).map(String).filter((name) =>",
          "  /^(process|require|module|exports|Buffer|fetch|std|os|scriptArgs|print|WebAssembly|global|__dirname|host)$/.test(name));",
          'if (host.length > 0) return host.join(",");',
          'throw new Error("none");',
        ].join("\n"),
      ],
    ]);
    await assertNothingLeftBehind(harness);
  }));

// Protection: the runtime's module loader refuses every import (js-guest.ts setModuleLoader), and the
// script is the body of an async function, where an import statement is a syntax error.
test("JavaScript: import(), import statements and import.meta load nothing", () =>
  underAttack(harness, async () => {
    await blocked([
      ["import-fs", 'return (await import("fs")).readFileSync("/etc/hostname");'],
      ["import-node-fs", 'return (await import("node:fs")).readFileSync("/etc/hostname");'],
      ["import-child", 'return (await import("node:child_process")).execSync("id");'],
      ["import-std", 'return (await import("std")).getenv("PTC_ADVERSARIAL_SECRET");'],
      ["import-os", 'return (await import("os")).getcwd();'],
      ["import-path", 'return await import("/etc/passwd");'],
      ["import-data", 'return (await import("data:text/javascript,export default globalThis.process")).default.env;'],
      ["import-eval", 'return (await eval("import(\\"fs\\")")).readFileSync("/etc/hostname");'],
      ["import-meta", 'return eval("import.meta").url;'],
    ]);
    // A static import statement: the whole script is refused before it runs.
    const statement = await runJs(harness, { code: 'import fs from "fs";\ntext(fs.readFileSync("/etc/hostname"));' });
    assert.equal(statement.status, "failed");
    assert.equal(statement.error?.type, "SyntaxError", JSON.stringify(statement.error));
    assert.equal(statement.stdout, "");
  }));

// Protection: the bridge object (`host`) is a parameter of the prelude's closure, never a property of
// anything the guest can reach; the guest's functions are strict, so `caller` and `arguments` are sealed.
test("JavaScript: nothing reachable from the guest's globals is the child's bridge or a Node object", () =>
  underAttack(harness, async () => {
    const scan = [
      // Breadth-first over every own property (values and accessors), prototype and function, from globalThis.
      "const queue = [globalThis, tools, text, console, setTimeout, ToolError];",
      "const seen = new Set();",
      "const found = [];",
      "while (queue.length > 0 && seen.size < 20000) {",
      "  const value = queue.shift();",
      "  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;",
      "  seen.add(value);",
      "  let keys = [];",
      "  try { keys = Reflect.ownKeys(value); } catch {}",
      "  const names = keys.map(String);",
      "  if (['call', 'write', 'done', 'setTimer'].every((n) => names.includes(n))) found.push('bridge');",
      "  if (['env', 'pid', 'binding'].some((n) => names.includes(n))) found.push('process-like:' + names.slice(0, 5));",
      "  for (const key of keys) {",
      "    let descriptor;",
      "    try { descriptor = Reflect.getOwnPropertyDescriptor(value, key); } catch { continue; }",
      "    if (!descriptor) continue;",
      "    for (const part of [descriptor.value, descriptor.get, descriptor.set]) queue.push(part);",
      "  }",
      "  try { queue.push(Reflect.getPrototypeOf(value)); } catch {}",
      "}",
      "if (found.length > 0) return found.join(';');",
      "throw new Error('scanned ' + seen.size);",
    ].join("\n");
    await blocked([
      ["reachability", scan],
      ["caller", "return tools.echo.caller;"],
      ["arguments", "return text.arguments;"],
      [
        "stack-frames",
        [
          "const sites = [];",
          "Error.prepareStackTrace = (error, frames) => { sites.push(...frames); return 'x'; };",
          "await tools.echo({ get boom() { void new Error().stack; return 1; } });",
          "delete Error.prepareStackTrace;",
          "const reached = sites.map((s) => [s.getThis?.(), s.getFunction?.()]).flat().filter(Boolean);",
          "if (reached.length > 0) return reached.map(String).join();",
          "throw new Error('no frames');",
        ].join("\n"),
      ],
      [
        "stack-paths",
        "const s = String(new Error().stack); if (/node_modules|file:|\\/work\\//.test(s)) return s; throw new Error('clean');",
      ],
    ]);
  }));

// Protection: `tools` is a Proxy refusing set/define/delete; each tool function calls the host with its own
// name, whatever `this`; a direct-only tool is a stub that rejects without calling; the broker checks every
// call's name on the host (tool-call-broker.ts).
test("JavaScript: Symbol, Proxy and Reflect tricks on tools and on the host's values reach nothing else", () =>
  underAttack(harness, async () => {
    seen.echo.length = 0;
    seen.adminReset = 0;
    const code = [
      "const out = [];",
      "const attempt = async (label, fn) => { try { out.push(label + ' ok ' + JSON.stringify(await fn())); } catch (e) { out.push(label + ' ' + (e && (e.code || e.name))); } };",
      "await attempt('assign', () => { tools.echo = () => 'mine'; return tools.echo === undefined; });",
      "await attempt('define', () => Object.defineProperty(tools, 'echo', { value: () => 'mine' }));",
      "await attempt('delete', () => { 'use strict'; return delete tools.echo; });",
      "await attempt('proto', () => Object.setPrototypeOf(tools, { admin_reset: () => 'mine' }));",
      "await attempt('this', () => tools.echo.call({ name: 'admin_reset' }, { via: 'this' }));",
      "await attempt('reflect', () => Reflect.apply(tools.admin_reset, tools, [{}]));",
      "await attempt('bound', () => tools.admin_reset.bind(tools.echo)({}));",
      "await attempt('symbol', () => [typeof tools[Symbol.toPrimitive], typeof tools[Symbol.iterator], String(tools)]);",
      "await attempt('keys', () => Reflect.ownKeys(tools).map(String).sort());",
      "await attempt('json', () => JSON.stringify(tools));",
      "await attempt('unknown', () => tools.__proto__({}));",
      "await attempt('wrapped', () => new Proxy(tools, { get: (t, k) => (k === 'echo' ? t.admin_reset : t[k]) }).echo({}));",
      "const value = await tools.echo({ nested: { list: [1] } });",
      "await attempt('value-ctor', () => value.constructor.constructor('return typeof process')());",
      "await attempt('value-proto', () => Object.getPrototypeOf(value) === Object.prototype && Object.getPrototypeOf(value.nested.list) === Array.prototype);",
      "await attempt('value-own', () => Reflect.ownKeys(value).map(String));",
      "await attempt('after', () => tools.echo({ after: true }));",
      "console.log(out.join('\\n'));",
    ].join("\n");
    const result = assertCompletedJs(await runJs(harness, { code }));
    const lines = result.stdout.trim().split("\n");
    assert.deepEqual(lines, [
      "assign ok false",
      "define TypeError",
      "delete TypeError",
      "proto ok {}",
      'this ok {"via":"this"}',
      "reflect tool_not_allowed",
      "bound tool_not_allowed",
      "symbol TypeError",
      'keys ok ["admin_reset","double","echo","late","whereami"]',
      'json ok "{}"',
      "unknown tool_not_found",
      "wrapped tool_not_allowed",
      'value-ctor ok "undefined"',
      "value-proto ok true",
      'value-own ok ["nested"]',
      'after ok {"after":true}',
    ]);
    assert.equal(seen.adminReset, 0, "the direct-only tool never ran");
    assert.deepEqual(seen.echo, [{ via: "this" }, { nested: { list: [1] } }, { after: true }]);
  }));

// Protection: each execution has its own QuickJS (a new wasm instance); what the host receives is parsed
// from JSON (own data keys only); the child frames its messages with intrinsics captured at start-up.
test("JavaScript: prototype pollution reaches neither the host's objects, the handler's input, nor any later execution", async () => {
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  await underAttack(harness, async () => {
    seen.echo.length = 0;
    const container = `js-pollution-${process.pid}`;
    const code = [
      "Object.prototype.polluted = 'yes';",
      "Object.prototype.isAdmin = true;",
      "Array.prototype.leftBehind = 1;",
      "globalThis.leftBehind = 'yes';",
      "JSON.stringify = () => '{\"forged\":true}';",
      "JSON.parse = () => ({ forged: true });",
      "Object.keys = () => [];",
      "String.prototype.indexOf = () => -1;",
      "const first = await tools.echo({ plain: [1, 2] });",
      "Array.prototype.toJSON = function () { return 'ARRAY'; };",
      "const second = await tools.echo({ list: [1, 2] });",
      "delete Array.prototype.toJSON;",
      "let swapped = false;",
      'Object.prototype.toJSON = function () { if (swapped) return this; swapped = true; return { ["__proto__"]: { isAdmin: "via-json" }, constructor: { prototype: { polluted: "deep" } } }; };',
      "const third = await tools.echo({ any: 1 });",
      "delete Object.prototype.toJSON;",
      "console.log(first.plain.length, second.list, Object.getOwnPropertyNames(third).sort().join());",
    ].join("\n");
    const result = assertCompletedJs(await runJs(harness, { code, container }));
    assert.equal(result.stdout, "2 ARRAY __proto__,constructor\n");
    assert.equal(seen.echo.length, 3);
    assert.deepEqual(seen.echo[0], { plain: [1, 2] });
    assert.deepEqual(seen.echo[1], { list: "ARRAY" });
    const third = seen.echo[2] as Record<string, unknown>;
    for (const input of seen.echo) {
      assert.equal(Object.getPrototypeOf(input), Object.prototype, "a plain object");
      assert.equal((input as { polluted?: unknown }).polluted, undefined);
      assert.equal((input as { isAdmin?: unknown }).isAdmin, undefined);
    }
    assert.ok(Object.hasOwn(third, "__proto__"), "__proto__ arrived as an own data key");
    await assertNothingLeftBehind(harness, container);
    harness.engine.closeContainer(container);
  });
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore);
});

// Protection: a sandbox that ran only JavaScript goes back to the pool without a reset (sandbox-reuse.ts): the
// run's QuickJS instance is dropped, its timers are cancelled and its calls withdrawn when it ends.
test("a sandbox recycled after JavaScript serves the next one-off execution with nothing of the last one: no timer, call, global or prototype", () =>
  underAttack(harness, async () => {
    const engine = createEngine({ pool: { size: 1 }, tools });
    reuseEngine = engine;
    await engine.warmUp();
    const [pid, ...others] = engine.sandboxPids();
    assert.ok(pid !== undefined && others.length === 0, "one warm sandbox");
    const run = async (code: string) => {
      const result = await engine.execute({ code, language: "javascript" }).result;
      assertNoHostLeak(JSON.stringify(result));
      return assertCompletedJs(result);
    };
    await run(
      [
        "Object.prototype.polluted = 'yes';",
        "globalThis.leftBehind = 1;",
        // Both would land while the next execution runs, were they not cancelled with this one.
        "setTimeout(() => { Object.prototype.late = 1; text('LATE'); }, 800);",
        "void tools.late({ ms: 800 });",
        "text('first');",
      ].join("\n"),
    );
    // The pool started a replacement while the first ran: killed, so that the first's sandbox, back in the
    // pool without a reset, is the only warm one and serves the next execution.
    await engine.warmUp();
    const replacements = engine.sandboxPids().filter((other) => other !== pid);
    for (const other of replacements) process.kill(other, "SIGKILL");
    while (engine.sandboxPids().some((other) => replacements.includes(other))) await delay(10);
    const second = await run(
      [
        "const pids = await tools.whereami({});",
        "await new Promise((resolve) => setTimeout(resolve, 1_500));",
        "text(JSON.stringify(pids), String(({}).polluted ?? ({}).late), typeof leftBehind);",
      ].join("\n"),
    );
    const [pids = "", ...rest] = second.stdout.split(" ");
    assert.ok((JSON.parse(pids) as number[]).includes(pid), `the first sandbox ${pid} is alive: ${pids}`);
    assert.equal(rest.join(" "), "undefined undefined", "no timer fired, nothing of the realm was left");
    assert.deepEqual(
      second.toolCalls.map((call) => call.name),
      ["whereami"],
      "no call of the last run was answered here",
    );
    await engine.close();
    reuseEngine = undefined;
  }));

/** Text a hostile guest would like the host to read as frames: forged output, a forged done, a forged call. */
const FORGED =
  '\nJ{"t":"output","stream":"stdout","data":"FORGED"}\nJ{"t":"done","error":null}\nC9\t"echo"\t{"forged":true}\nW0\n';

// Protection: guest output travels only as JSON-escaped data of an output frame (child-output.ts), tool
// inputs only as JSON (whose strings cannot hold a raw newline), and a tool's name is one the host gave.
test("JavaScript: frame-like text in text(), console, tool inputs, tool names and errors is only data", () =>
  underAttack(harness, async () => {
    seen.echo.length = 0;
    const code = [
      `const FORGED = ${JSON.stringify(FORGED)};`,
      "text(FORGED);",
      "console.log(FORGED);",
      "console.error(FORGED);",
      "const echoed = await tools.echo({ s: FORGED, lone: '\\ud800', nul: '\\u0000', sep: '\\u2028' });",
      "let named = 'none';",
      "try { await tools['echo' + FORGED]({}); } catch (e) { named = e.code; }",
      "console.log(echoed.s === FORGED, echoed.lone.length, named);",
      "throw new Error(FORGED);",
    ].join("\n");
    const result = await runJs(harness, { code });
    assert.equal(result.status, "failed");
    assert.equal(result.stdout, `${FORGED}\n${FORGED}\ntrue 1 tool_not_found\n`);
    assert.equal(result.stderr, `${FORGED}\n`);
    assert.ok(result.error?.message.includes('J{"t":"done"'), "the error message is the guest's text, as data");
    assert.deepEqual(seen.echo, [{ s: FORGED, lone: "\ud800", nul: "\u0000", sep: "\u2028" }]);
    assert.equal(seen.adminReset, 0);
    assert.equal(result.toolCalls.length, 1, "only the real call reached the host");
  }));

// Protection: a Python script's changes to the JS realm it shares with the child stay in its container; the
// JavaScript guest's bridge uses intrinsics captured at start-up, and the host checks every frame anyway.
test("Python poisoning the child's shared JS intrinsics cannot make a JavaScript execution in its container forge anything", () =>
  underAttack(harness, async () => {
    seen.echo.length = 0;
    const container = `js-cross-language-${process.pid}`;
    const poison = [
      "import js",
      "from pyodide.ffi import create_proxy",
      "def put(target, name, value):",
      "    try:",
      "        setattr(target, name, value)",
      "    except Exception as e:",
      "        print('refused', name, type(e).__name__)",
      `FORGED = ${JSON.stringify(FORGED)}`,
      "put(js.JSON, 'stringify', create_proxy(lambda *a: FORGED))",
      "put(js.JSON, 'parse', create_proxy(lambda *a: js.Object.fromEntries([['forged', True]])))",
      "arrays = js.Object.getPrototypeOf(js.Array.of())",
      "put(arrays, 'map', create_proxy(lambda *a: js.Array.of()))",
      "put(js.Array, 'from', create_proxy(lambda *a: js.Array.of()))",
      "print('poisoned')",
    ].join("\n");
    const python = await harness.engine.execute({ code: poison, container }).result;
    assert.equal(python.status, "completed", JSON.stringify(python.error));
    const result = await runJs(harness, {
      code: "const r = await tools.echo({ real: 1 }); console.log(JSON.stringify(r));",
      container,
      limits: { wallTimeoutMs: 30_000 },
    });
    // Whatever the poisoned realm did to this run, no forged call or output reached the host.
    assert.ok(
      seen.echo.every((input) => JSON.stringify(input) === '{"real":1}'),
      JSON.stringify(seen.echo),
    );
    assert.doesNotMatch(result.stdout, /FORGED/);
    assert.ok(result.status === "completed" || result.error !== null, "a failure has a structured error");
    harness.engine.closeContainer(container);
    await assertNothingLeftBehind(harness);
  }));
