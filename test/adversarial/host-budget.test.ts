import assert from "node:assert/strict";
import { test } from "node:test";
import { codeTool, delay } from "../helpers/engine.js";
import { assertCompleted, assertFailedWith, type Harness, startHarness, underAttack } from "./harness.js";

/**
 * What a script can make the host hold or spend on its behalf: the bytes of its tool inputs and of its
 * tools' results, the host CPU its calls cost, and the sandbox CPU it burns next to an outstanding call.
 * Each is bounded by a named limit with its own code; the server, and a benign neighbour, stay well.
 */

const MB = 1_048_576;
// One string, allocated once: the handler costs nothing, so what the host holds is the engine's doing.
const HUNDRED_MB = "x".repeat(100 * MB);
const strict = codeTool("strict", () => "ok", {
  type: "object",
  properties: { a: { type: "string" } },
  additionalProperties: false,
});
const huge = codeTool("huge_result", () => HUNDRED_MB);
const chunk = codeTool("chunk", (input) => "y".repeat(Number(input.mb) * MB));
const ask = codeTool("ask_client");

const harness: Harness = await startHarness({ tools: [strict, huge, chunk, ask] });

function rssGrowthDuring<T>(work: () => Promise<T>): Promise<{ value: T; peakGrowth: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return work().then(
    (value) => {
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { value, peakGrowth: peak - before };
    },
    (error: unknown) => {
      clearInterval(sampler);
      throw error;
    },
  );
}

test("hundreds of refused 9 MB calls: past the input budget each is refused with tool_input_total_limit; the host holds none of them", async (t) => {
  // Protections: maxTotalToolInputBytes (every call's input counts, refused or not) and refused calls
  // keeping no large input in their records (tool-call-broker.ts).
  await underAttack(harness, async () => {
    const { value: state, peakGrowth } = await rssGrowthDuring(() =>
      harness.execute({
        code: [
          "import json",
          "big = 'x' * (9 * 1024 * 1024)",
          "codes = {}",
          "for i in range(60):",
          "    for call in (lambda: no_such_tool(a=big), lambda: strict(a=big, extra=1)):",
          "        try:",
          "            await call()",
          "        except (ToolError, NameError) as error:",
          "            code = getattr(error, 'code', 'name_error')",
          "            codes[code] = codes.get(code, 0) + 1",
          "print(json.dumps(codes))",
        ].join("\n"),
        limits: { wall_timeout_ms: 120_000 },
      }),
    );
    const result = await assertCompleted(harness, state);
    const counts = JSON.parse(result.stdout) as Record<string, number>;
    assert.ok((counts.tool_input_total_limit ?? 0) >= 55, result.stdout);
    assert.ok(result.limits_hit.includes("tool_input_total_limit"));
    // The record reads back (it used to answer 500, `Invalid string length`) and keeps no big input.
    const recorded = await harness.request("GET", `/v1/executions/${state.id}`);
    assert.equal(recorded.status, 200);
    assert.ok(recorded.text.length < 1 * MB, `the record is ${recorded.text.length} characters`);
    t.diagnostic(`host RSS peak growth ${Math.round(peakGrowth / MB)} MiB over 120 calls of 9 MiB`);
    assert.ok(peakGrowth < 300 * MB, `host RSS grew ${Math.round(peakGrowth / MB)} MiB`);
  });
});

test("a tool name longer than any tool's is refused as not found, in the sandbox and on the host", async () => {
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "import json",
        "call = ToolError.__init__.__globals__['_bridge_call']",
        "for name in ('n' * 5_000_000, 'n' * 3_000, 'strict' + 'x' * 300):",
        "    reply = await call(name, '{}')",
        "    print(reply[:1], json.loads(reply[1:])['code'], len(reply))",
      ].join("\n"),
    });
    const result = await assertCompleted(harness, state);
    assert.deepEqual(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => line.split(" ").slice(0, 2).join(" ")),
      ["0 tool_not_found", "0 tool_not_found", "0 tool_not_found"],
    );
    for (const line of result.stdout.trim().split("\n")) assert.ok(Number(line.split(" ")[2]) < 500, line);
  });
});

test("a 100 MB tool result fails that call with tool_result_too_large, again and again, and the host never holds them", async (t) => {
  // Protection: maxToolResultBytes, checked before the result is serialised (tool-result-encoding.ts).
  await underAttack(harness, async () => {
    const { value: state, peakGrowth } = await rssGrowthDuring(() =>
      harness.execute({
        code: [
          "codes = []",
          "for i in range(30):",
          "    try:",
          "        await huge_result()",
          "    except ToolError as error:",
          "        codes.append(error.code)",
          "        message = str(error)",
          "print(len(codes), set(codes))",
          "print(message[:60])",
        ].join("\n"),
        limits: { wall_timeout_ms: 60_000 },
      }),
    );
    const result = await assertCompleted(harness, state);
    assert.equal(result.stdout.split("\n")[0], "30 {'tool_result_too_large'}");
    assert.match(result.stdout, /result of huge_result is over the limit of \d+ bytes/);
    assert.ok(result.limits_hit.includes("tool_result_too_large"));
    t.diagnostic(`host RSS peak growth ${Math.round(peakGrowth / MB)} MiB over 30 results of 100 MiB`);
    assert.ok(peakGrowth < 150 * MB, `host RSS grew ${Math.round(peakGrowth / MB)} MiB`);
  });
});

test("results past the execution's total fail with tool_result_total_limit; smaller ones before it arrive", async () => {
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "got = []",
        "for i in range(6):",
        "    try:",
        "        got.append(len(await chunk(mb=5)))",
        "    except ToolError as error:",
        "        got.append(error.code)",
        "print(got)",
      ].join("\n"),
      limits: { max_total_tool_result_bytes: 16 * MB },
    });
    const result = await assertCompleted(harness, state);
    const five = 5 * MB;
    assert.equal(
      result.stdout,
      `[${five}, ${five}, ${five}, 'tool_result_total_limit', 'tool_result_total_limit', 'tool_result_total_limit']\n`,
    );
    assert.ok(result.limits_hit.includes("tool_result_total_limit"));
  });
});

test("computing next to an unanswered call is charged: active_timeout, and the execution is not reported paused while it computes", async () => {
  // Protection: active time is the sandbox's CPU time whatever is outstanding (execution.ts), and the
  // child tells the host when a timer wakes a script it had reported idle (the B frame).
  await underAttack(harness, async () => {
    const started = harness.execute({
      code: [
        "import asyncio, time",
        "pending = asyncio.create_task(ask_client())",
        "await asyncio.sleep(0.3)",
        "x = 0",
        "while True:",
        "    x += 1",
      ].join("\n"),
      limits: { active_timeout_ms: 3_000 },
      wait: 0,
    });
    const first = await started;
    const statuses: string[] = [];
    let state = first;
    const deadline = Date.now() + 30_000;
    while (state.result === null && Date.now() < deadline) {
      await delay(250);
      state = await harness.record(first.id);
      statuses.push(state.status);
    }
    await assertFailedWith(harness, state, "active_timeout");
    // Once it computes (after its first 0.3 s), it is running, not paused on the call.
    assert.ok(!statuses.slice(2, -1).includes("paused"), statuses.join(" "));
  });
});

test("an input with 550,000 extra keys (9 MB) is refused at the first error: the host's event loop stays responsive", async (t) => {
  // Protection: validation stops at the first error (schema-validator.ts); the input budget bounds the rest.
  await underAttack(harness, async () => {
    const latencies: number[] = [];
    let done = false;
    const probing = (async () => {
      while (!done) {
        const started = performance.now();
        await fetch(`${harness.url}/health`);
        latencies.push(performance.now() - started);
        await delay(50);
      }
    })();
    const state = await harness.execute({
      code: [
        "big = {f'k{i}': i for i in range(550_000)}",
        "for i in range(3):",
        "    try:",
        "        await strict(big)",
        "    except ToolError as error:",
        "        print(error.code, str(error)[:70])",
      ].join("\n"),
      limits: { wall_timeout_ms: 60_000 },
    });
    done = true;
    await probing;
    const result = await assertCompleted(harness, state);
    assert.equal(
      result.stdout.split("\n")[0],
      'invalid_tool_input Invalid input for tool "strict": arguments: must NOT have additional p',
    );
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)] ?? 0;
    t.diagnostic(`/health median ${Math.round(median)} ms, max ${Math.round(latencies.at(-1) ?? 0)} ms`);
    assert.ok(median < 300, `/health median ${Math.round(median)} ms`);
  });
});
