import assert from "node:assert/strict";
import { test } from "node:test";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { codeTool } from "../helpers/engine.js";
import { startHarness, underAttack } from "./harness.js";
import { assertCompletedJs, assertFailedJs, GUEST_ERROR, runJs } from "./javascript-helpers.js";
import { hostRss } from "./resources-helpers.js";

/**
 * Tool inputs a JavaScript script can build that JSON or the host refuse: huge, deep, cyclic, throwing,
 * BigInt, getters, Proxies, numbers JSON cannot carry; and TypeScript that hides code where types go.
 * Each refusal is a catchable ToolError with a stable code before anything reaches a handler, or the
 * handler gets exactly the JSON the script's serializer produced.
 */

const seen = { echo: [] as unknown[], sink: 0 };
const tools: ToolDefinition[] = [
  codeTool("echo", (input) => {
    seen.echo.push(input);
    return input;
  }),
  codeTool("sink", () => {
    seen.sink++;
    return "stored";
  }),
];
const harness = await startHarness({ tools });

/** Runs `attempt(label, () => call)` lines; each prints `label ok <json>` or `label <code>`. */
function attempts(lines: string[]): string {
  return [
    "const out = [];",
    "const attempt = async (label, fn) => {",
    "  try { out.push(label + ' ok ' + JSON.stringify(await fn())); }",
    "  catch (e) { out.push(label + ' ' + (e instanceof ToolError ? e.code : 'threw ' + (e && e.name))); }",
    "};",
    ...lines,
    "console.log(out.join('\\n'));",
  ].join("\n");
}

// Protections: the prelude's checks before a call is framed (js-guest-globals.ts callTool: an object,
// depth, JSON.stringify), the child's size cap, then the host's (tool-call-broker.ts, input-guard.ts).
test("JavaScript tool-input bombs are refused as catchable ToolErrors before any handler runs", () =>
  underAttack(harness, async () => {
    seen.sink = 0;
    const before = hostRss();
    const code = attempts([
      "await attempt('huge', () => tools.sink({ data: 'x'.repeat(100_000_000) }));",
      "let deep = {}; for (let i = 0; i < 100_000; i++) deep = { deep };",
      "await attempt('deep', () => tools.sink(deep));",
      "const cyclic = { name: 'loop' }; cyclic.self = cyclic;",
      "await attempt('cyclic', () => tools.sink(cyclic));",
      "await attempt('toJSON', () => tools.sink({ v: { toJSON() { throw new Error('no'); } } }));",
      "await attempt('bigint', () => tools.sink({ n: 10n ** 30n }));",
      "await attempt('string', () => tools.sink('just a string'));",
      "await attempt('array', () => tools.sink([1, 2]));",
      "await attempt('null', () => tools.sink(null));",
      "await attempt('unsafe', () => tools.sink({ n: 2 ** 64 }));",
      "await attempt('getter-throws', () => tools.sink({ get boom() { throw new Error('getter'); } }));",
      "await attempt('proxy-traps', () => tools.sink(new Proxy({}, { ownKeys() { throw new Error('trap'); } })));",
    ]);
    const result = assertCompletedJs(await runJs(harness, { code, limits: { wallTimeoutMs: 60_000 } }));
    assert.deepEqual(result.stdout.trim().split("\n"), [
      "huge tool_input_too_large",
      "deep invalid_tool_input",
      "cyclic invalid_tool_input",
      "toJSON invalid_tool_input",
      "bigint invalid_tool_input",
      "string invalid_tool_input",
      "array invalid_tool_input",
      "null invalid_tool_input",
      "unsafe invalid_tool_input",
      "getter-throws threw Error",
      "proxy-traps threw Error",
    ]);
    assert.equal(seen.sink, 0, "no handler ran");
    assert.ok(hostRss() - before < 250 * 1_048_576, `host RSS grew by ${hostRss() - before} bytes`);
  }));

// Protection: what reaches a handler is JSON.parse of the guest's JSON (JSON's own conversions: NaN and
// Infinity become null, undefined and functions are dropped, -0 is 0), checked by the broker.
test("JavaScript values JSON converts reach the handler exactly as JSON says, getters run once per serialization", () =>
  underAttack(harness, async () => {
    seen.echo.length = 0;
    const code = attempts([
      "let reads = 0;",
      "await attempt('converted', () => tools.echo({ nan: NaN, inf: -Infinity, zero: -0, u: undefined, f() {}, d: new Date(0), list: [undefined, () => 1] }));",
      "await attempt('getter', () => tools.echo({ get once() { reads++; return reads; } }));",
      "await attempt('sparse', () => tools.echo({ a: [1, , 3] }));",
      "await attempt('keys', () => tools.echo({ ['__proto__']: { isAdmin: true }, constructor: 1, toString: 2 }));",
      "out.push('reads ' + reads);",
    ]);
    const result = assertCompletedJs(await runJs(harness, { code }));
    const lines = result.stdout.trim().split("\n");
    assert.equal(
      lines[0],
      'converted ok {"nan":null,"inf":null,"zero":0,"d":"1970-01-01T00:00:00.000Z","list":[null,null]}',
    );
    assert.match(lines[1] ?? "", /^getter ok \{"once":\d\}$/);
    assert.equal(lines[2], 'sparse ok {"a":[1,null,3]}');
    assert.equal(lines[3], 'keys ok {"__proto__":{"isAdmin":true},"constructor":1,"toString":2}');
    const keys = seen.echo[3] as Record<string, unknown>;
    assert.ok(Object.hasOwn(keys, "__proto__"));
    assert.equal((keys as { isAdmin?: unknown }).isAdmin, undefined);
    assert.equal(Object.getPrototypeOf(keys), Object.prototype);
  }));

// Protection: types are stripped by Node's stripTypeScriptTypes (mode "strip": replaced by spaces) before the
// script runs in the same QuickJS: nothing in a type position executes; syntax that is not erasable is a
// SyntaxError before anything runs.
test("TypeScript: code in type positions never runs; non-erasable syntax and value imports are refused before running", () =>
  underAttack(harness, async () => {
    seen.echo.length = 0;
    const hidden = [
      "type Env = typeof import('node:fs');",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a TypeScript template literal type, as guest source
      "type Leak = `${typeof globalThis extends { process: infer P } ? 'x' : 'y'}`;",
      "declare global { var process: { env: Record<string, string> } }",
      "declare function require(name: string): unknown;",
      "interface I { run(): ReturnType<typeof eval> }",
      "let value: (typeof globalThis)['process'] | undefined = undefined;",
      "const f = <T,>(x: T): T => x;",
      "function g(this: Window, a?: number): asserts a is number {}",
      "let n = f<number>(41) satisfies number as unknown as number;",
      "text(String(n + 1), typeof value, typeof process);",
    ].join("\n");
    const stripped = assertCompletedJs(await runJs(harness, { code: hidden, language: "typescript" }));
    assert.equal(stripped.stdout, "42 undefined undefined");
    for (const code of [
      "enum E { A = 1 }\ntext(E.A);",
      "namespace N { export const x = 1; }\ntext(N.x);",
      "class C { constructor(private x: number) {} }\ntext('ran');",
      "import fs from 'node:fs';\ntext('ran');",
      // The script is a function's body: no import statement, not even a type-only one.
      "import type { readFileSync } from 'node:fs';\ntext('ran');",
    ]) {
      const refused = await runJs(harness, { code, language: "typescript" });
      assertFailedJs(refused, GUEST_ERROR);
      assert.equal(refused.error?.type, "SyntaxError", code);
      assert.equal(refused.stdout, "", "nothing ran");
    }
    // The same JavaScript as TypeScript is refused as a type annotation, not run differently.
    const javascript = await runJs(harness, { code: "let x: number = 1;", language: "javascript" });
    assertFailedJs(javascript, GUEST_ERROR);
    assert.equal(javascript.error?.type, "SyntaxError");
    assert.deepEqual(seen.echo, []);
  }));
