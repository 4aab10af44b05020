import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { journaledCalls } from "../../src/engine/replay.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { ExecutionResult, ScriptLanguage } from "../../src/protocol/execution.js";
import type { ExecutionLimits } from "../../src/protocol/limits.js";
import { codeTool, testEngine } from "../helpers/engine.js";

let lookups = 0;
const lookup = codeTool("lookup", (input) => {
  lookups++;
  const q = (input as { q: unknown }).q;
  return { q, n: typeof q === "number" ? q * 10 : 0, tags: ["a", "b"] };
});
const fail = codeTool("fail", () => {
  throw new Error("the warehouse is closed");
});
const echo = codeTool("echo", (input) => input);
const engine = testEngine({ pool: { size: 2 }, tools: [lookup, fail, echo] });
after(() => engine.close());

function run(
  code: string,
  options: { language?: ScriptLanguage; limits?: Partial<ExecutionLimits>; container?: string } = {},
): Promise<ExecutionResult> {
  return engine.execute({ code, language: options.language ?? "javascript", ...options }).result;
}

describe("JavaScript guest: tools", () => {
  test("a tool's result is the decoded value; text(JSON.stringify(x)) is exactly that JSON", async () => {
    const result = await run(`const r = await tools.lookup({q: 4});\ntext(JSON.stringify({n: r.n, tags: r.tags}));`);
    assert.equal(result.status, "completed", JSON.stringify(result.error));
    assert.equal(result.stdout, '{"n":40,"tags":["a","b"]}');
    assert.equal(result.toolCalls.length, 1);
    assert.deepEqual(result.toolCalls[0]?.input, { q: 4 });
    // Its report names QuickJS, every isolation layer the Python guest's.
    assert.match(result.isolation.runtime, /^quickjs \(quickjs-emscripten \d+\.\d+\.\d+\) in a child process$/);
    assert.deepEqual({ ...result.isolation, runtime: "" }, { ...engine.isolation, runtime: "" });
  });

  test("in text result mode every result is a string", async () => {
    const result = await engine.execute({
      code: `const r = await tools.lookup({q: 1}); text(typeof r, r);`,
      language: "javascript",
      resultMode: "text",
    }).result;
    assert.equal(result.stdout, 'string {"q":1,"n":10,"tags":["a","b"]}');
  });

  test("Promise.all of 300 calls: every result, in order", async () => {
    const result = await run(
      `const rs = await Promise.all(Array.from({length: 300}, (_, i) => tools.lookup({q: i})));\n` +
        `text(rs.length, rs.every((r, i) => r.n === i * 10));`,
    );
    assert.equal(result.stdout, "300 true");
    assert.equal(result.toolCalls.length, 300);
  });

  test("a tool error is a catchable ToolError with .code and .message", async () => {
    const result = await run(
      `try { await tools.fail({}); } catch (e) {\n  text(e instanceof ToolError, e instanceof Error, e.name, e.code, e.message);\n}`,
    );
    assert.equal(result.stdout, "true true ToolError tool_error the warehouse is closed");
  });

  test("an uncaught tool error fails the execution with its code and the line of the call", async () => {
    const result = await run(`const a = 1;\n\nawait tools.fail({});`);
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, ErrorCode.ToolError);
    assert.equal(result.error?.type, "ToolError");
    assert.equal(result.error?.message, "the warehouse is closed");
    assert.equal(result.error?.line, 3);
  });

  test("an unknown tool is a ToolError tool_not_found naming it", async () => {
    const result = await run(`await tools.lookupp({q: 1});`);
    assert.equal(result.error?.code, ErrorCode.ToolNotFound);
    assert.match(result.error?.message ?? "", /"lookupp" is not available; the tools are: lookup, fail, echo/);
  });

  test("arguments that are not one object are refused as invalid_tool_input", async () => {
    const result = await run(
      `for (const bad of [[1], "x", 3]) {\n  try { await tools.echo(bad); } catch (e) { console.log(e.code); }\n}`,
    );
    assert.equal(result.stdout, "invalid_tool_input\ninvalid_tool_input\ninvalid_tool_input\n");
    assert.equal(result.toolCalls.length, 0);
  });
});

describe("JavaScript guest: output", () => {
  test("text pieces are joined by newlines, console lines stand on their own, warn and error go to stderr", async () => {
    const result = await run(
      `text("a"); text({b: 1}); console.log("c", [1, 2], null); text("d");\nconsole.warn("w", {x: 1}); console.error(new TypeError("bad"));`,
    );
    assert.equal(result.stdout, 'a\n{"b":1}\nc [1,2] null\nd');
    assert.equal(result.stderr, 'w {"x":1}\nTypeError: bad\n');
  });

  test("image() takes a data:image URL or an http(s) URL; anything else is a TypeError", async () => {
    const png = "data:image/png;base64,iVBORw0KGgo=";
    const result = await run(
      `image(${JSON.stringify(png)}); image("https://example.com/a.png");\ntry { image("file:///etc/passwd"); } catch (e) { console.log(e.name); }`,
    );
    assert.equal(result.stdout, `![image](${png})\n![image](https://example.com/a.png)\nTypeError\n`);
  });

  test("a top-level return value is written like text()", async () => {
    const result = await run(`const x = await tools.echo({v: 2});\nreturn x;`);
    assert.equal(result.stdout, '{"v":2}');
  });

  test("setTimeout waits; clearTimeout cancels", async () => {
    const result = await run(
      `const cancelled = setTimeout(() => text("never"), 5);\nclearTimeout(cancelled);\n` +
        `await new Promise((resolve) => setTimeout(resolve, 30));\ntext("after");`,
    );
    assert.equal(result.stdout, "after");
  });

  test("no Node, network, module loader or WebAssembly in the guest", async () => {
    const result = await run(
      `text([typeof require, typeof process, typeof fetch, typeof WebAssembly, typeof Buffer].join(","));\n` +
        `try { await import("node:fs"); } catch (e) { console.log(e.message); }`,
    );
    assert.equal(
      result.stdout,
      "undefined,undefined,undefined,undefined,undefined\nmodules cannot be imported in the ptc sandbox\n",
    );
  });
});

describe("TypeScript", () => {
  test("types are stripped: interfaces, generics, `as`, type-only imports of nothing", async () => {
    const code = [
      "interface Item { q: number; n: number }",
      "type Pair<T> = [T, T];",
      "async function twice<T extends object>(input: T): Promise<Pair<Item>> {",
      "  const a = (await tools.lookup(input)) as Item;",
      "  return [a, a];",
      "}",
      "const [first] = await twice<{ q: number }>({ q: 3 });",
      "text(first.n satisfies number);",
    ].join("\n");
    const result = await run(code, { language: "typescript" });
    assert.equal(result.status, "completed", JSON.stringify(result.error));
    assert.equal(result.stdout, "30");
  });

  test("a TypeScript syntax error, and a runtime error, report the script's own line", async () => {
    const syntax = await run("const a: number = 1;\nconst b: = 2;", { language: "typescript" });
    assert.equal(syntax.error?.type, "SyntaxError");
    assert.equal(syntax.error?.line, 2);
    const enumUse = await run("enum E { A }", { language: "typescript" });
    assert.equal(enumUse.error?.type, "SyntaxError");
    assert.match(enumUse.error?.message ?? "", /enum/);
    const thrown = await run("const a: number = 1;\n\nthrow new RangeError('bad ' + a);", { language: "typescript" });
    assert.equal(thrown.error?.code, ErrorCode.JavaScriptError);
    assert.equal(thrown.error?.type, "RangeError");
    assert.equal(thrown.error?.message, "bad 1");
    assert.equal(thrown.error?.line, 3);
  });
});

describe("JavaScript guest: limits", () => {
  test("memory: a runaway allocation ends with memory_limit, and the next execution runs", async () => {
    const result = await run(`const s = [];\nwhile (true) s.push("x".repeat(1 << 20) + s.length);`, {
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    assert.equal(result.error?.code, ErrorCode.MemoryLimit, JSON.stringify(result.error));
    assert.equal((await run(`text("ok")`)).stdout, "ok");
  });

  test("deep recursion is a catchable error, not a crash", async () => {
    const result = await run(
      `function f(n) { return f(n + 1) + 1; }\ntry { f(0); } catch (e) { text(e.name, e.message); }`,
    );
    assert.equal(result.stdout, "InternalError stack overflow");
  });

  test("an infinite loop ends with the same code as Python's", async () => {
    // The wall limit far above the active one: on a loaded machine CPU time accrues slower than wall time.
    const limits = { activeTimeoutMs: 800, wallTimeoutMs: 60_000 };
    const javascript = await run("while (true) {}", { limits });
    const python = await run("while True:\n    pass", { language: "python", limits });
    assert.equal(javascript.error?.code, python.error?.code);
    assert.equal(javascript.error?.code, ErrorCode.ActiveTimeout);
  });

  test("the tool-call limit, the input size and depth caps keep their codes", async () => {
    const calls = await run(`for (let i = 0; i < 10; i++) await tools.echo({i});`, { limits: { maxToolCalls: 3 } });
    assert.equal(calls.error?.code, ErrorCode.ToolCallLimit);
    const large = await run(`await tools.echo({s: "x".repeat(5000)});`, { limits: { maxToolInputBytes: 1000 } });
    assert.equal(large.error?.code, ErrorCode.ToolInputTooLarge);
    const deep = await run(`let v = {}; for (let i = 0; i < 200; i++) v = {v};\nawait tools.echo(v);`);
    assert.equal(deep.error?.code, ErrorCode.InvalidToolInput);
    assert.match(deep.error?.message ?? "", /nested more than/);
  });

  test("a loop that calls without ever awaiting is stopped past the call limit, and the sandbox serves on", async () => {
    const result = await run(`for (;;) tools.echo({}).catch(() => {});`, {
      limits: { maxToolCalls: 3 },
      container: "spinning",
    });
    assert.equal(result.error?.code, ErrorCode.ToolCallLimit);
    assert.match(result.error?.message ?? "", /kept calling tools and was stopped/);
    assert.equal((await run(`text("next")`, { container: "spinning" })).stdout, "next");
  });

  test("output past the cap is dropped and reported", async () => {
    const result = await run(`for (let i = 0; i < 1000; i++) console.log("line", i);`, {
      limits: { maxOutputBytes: 100 },
    });
    assert.ok(result.truncated.stdout);
    assert.ok(result.limitsHit.includes(ErrorCode.OutputLimit));
    const huge = await run(`text("x".repeat(100_000_000)); console.error("y".repeat(50_000_000)); text("z");`, {
      limits: { maxOutputBytes: 100 },
    });
    assert.equal(huge.status, "completed", JSON.stringify(huge.error));
    assert.ok(huge.stdout.startsWith("x".repeat(100)));
    assert.ok(huge.truncated.stdout && huge.truncated.stderr);
  });

  test("an unknown language is invalid_request", () => {
    assert.throws(
      () => engine.execute({ code: "1", language: "ruby" as ScriptLanguage }),
      (error) => PtcError.is(error, ErrorCode.InvalidRequest) && /python, javascript, typescript/.test(error.message),
    );
  });
});

describe("JavaScript guest: replay", () => {
  const code = `const a = await tools.lookup({q: 1});\nconst [b, c] = await Promise.all([tools.lookup({q: 2}), tools.fail({})]).catch(async (e) => [await tools.lookup({q: 3}), e.code]);\ntext(a.n, b.n, c, Math.random());`;

  test("a journaled execution runs again with its calls answered from the journal", async () => {
    const first = engine.execute({ code, language: "javascript", container: "js-replay" });
    const original = await first.result;
    assert.equal(original.status, "completed", JSON.stringify(original.error));
    const calls = journaledCalls(first.journal());
    const start = first.journal()[0];
    assert.equal(start?.type === "execution-start" ? start.language : undefined, "javascript");
    const before = lookups;
    const again = await engine.execute({
      code,
      language: "javascript",
      container: "js-replay",
      replay: { calls, finished: true },
    }).result;
    assert.equal(again.status, "completed", JSON.stringify(again.error));
    assert.equal(again.stdout, original.stdout, "same results and the same Math.random (the container's seed)");
    assert.equal(lookups, before, "no handler ran");
  });

  test("a replay whose script calls with other arguments diverges", async () => {
    const first = engine.execute({ code, language: "javascript", container: "js-diverge" });
    await first.result;
    const diverged = await engine.execute({
      code: code.replace("{q: 1}", "{q: 9}"),
      language: "javascript",
      container: "js-diverge",
      replay: { calls: journaledCalls(first.journal()), finished: true },
    }).result;
    assert.equal(diverged.error?.code, ErrorCode.ReplayDiverged);
    assert.match(diverged.error?.message ?? "", /other arguments/);
  });

  test("a container rebuilt from a history with both languages runs each in its own", async () => {
    const py = engine.execute({ code: "x = 41", container: "mixed-src" });
    await py.result;
    const js = engine.execute({
      code: `text((await tools.lookup({q: 5})).n)`,
      language: "javascript",
      container: "mixed-src",
    });
    await js.result;
    const seed = engine.containers.record("mixed-src")?.seed ?? 0;
    const report = await engine.restoreContainer("mixed-rebuilt", {
      seed,
      executions: [
        { code: "x = 41", calls: journaledCalls(py.journal()) },
        { code: `text((await tools.lookup({q: 5})).n)`, language: "javascript", calls: journaledCalls(js.journal()) },
      ],
    });
    assert.equal(report.executions, 2);
    const after = await run("print(x + 1)", { language: "python", container: "mixed-rebuilt" });
    assert.equal(after.stdout, "42\n");
  });
});

describe("JavaScript guest beside Python", () => {
  test("a container runs both: JavaScript keeps no state, and leaves Python's untouched", async () => {
    await run("x = 1", { language: "python", container: "mixed" });
    const first = await run(`globalThis.y = 2; text(typeof x);`, { container: "mixed" });
    assert.equal(first.stdout, "undefined", "Python's names are not JavaScript's");
    const second = await run(`text(typeof y);`, { container: "mixed" });
    assert.equal(second.stdout, "undefined", "no JavaScript state between executions");
    const python = await run("print(x)", { language: "python", container: "mixed" });
    assert.equal(python.stdout, "1\n");
  });

  test("a JavaScript run followed by a Python run in the same pool", async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await run(`text(${i})`)).stdout, String(i));
      const python = await run(`print(globals().get("leak", "clean")); leak = 1`, { language: "python" });
      assert.equal(python.stdout, "clean\n");
    }
  });
});
