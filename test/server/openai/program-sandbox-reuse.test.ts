import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { testEngine, until } from "../../helpers/engine.js";
import { INVENTORY_TOOLS, responsesForFile } from "../../helpers/responses-endpoint.js";

// A program's container is idle once its one execution ends: its sandbox, which ran only JavaScript, goes
// back to the pool as a one-off's does, so programs one after another start no new sandbox. A pool of size 0
// that keeps what comes back for 10 minutes: it starts a sandbox only for an execution that finds none warm,
// never to refill (one of size 1 may start a second while a program's turn outlasts a start under load:
// pool-start-pacing.ts), so every start counted here is one an execution needed.

const engine = testEngine({ pool: { size: 0, idleMs: 600_000 } });
const { model, endpoint } = await responsesForFile(engine, "openai", { executionLimits: { activeTimeoutMs: 1_500 } });

async function programTurn(code: string): Promise<string> {
  model.setScript([{ toolCalls: [{ name: "programmatic_tool_calling", input: { code } }] }, { text: "done" }]);
  const response = await endpoint.client().responses.create({
    model: "gpt-5.6-sol",
    store: false,
    tools: INVENTORY_TOOLS,
    input: [{ role: "user", content: "go" }],
  });
  const output = response.output.find((item) => item.type === "program_output");
  assert.ok(output && output.type === "program_output", JSON.stringify(response.output));
  return output.result;
}

describe("/v1/responses programs and the pool", () => {
  test("a finished program's sandbox serves the next program: no new sandbox start, nothing of the last run left", async () => {
    assert.equal(
      await programTurn(`globalThis.leftover = 42; Object.prototype.polluted = "yes"; text("first");`),
      "first",
    );
    await until(() => engine.stats().pool.warm >= 1, "the first program's sandbox back in the pool");
    const started = engine.stats().pool.started;
    for (let i = 0; i < 3; i++) {
      const seen = await programTurn(`text(JSON.stringify([typeof globalThis.leftover, ({}).polluted ?? null]));`);
      assert.equal(seen, '["undefined",null]');
      await until(() => engine.stats().pool.warm >= 1, "the program's sandbox back in the pool");
    }
    assert.equal(engine.stats().pool.started, started);
  });

  test("a program that failed on a limit is not reused: its sandbox is killed", async () => {
    await until(() => engine.stats().pool.warm === 1, "the last program's sandbox warm");
    const started = engine.stats().pool.started;
    const result = await programTurn(`while (true) {}`);
    assert.match(result, /active_timeout/);
    await until(() => engine.stats().pool.live === 0, "the killed sandbox gone, none in its place");
    // The next program finds none warm: a new sandbox.
    assert.equal(await programTurn(`text("after");`), "after");
    assert.equal(engine.stats().pool.started, started + 1);
  });
});
