import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { JournalEntry } from "../../src/protocol/execution.js";
import { codeTool, testEngine } from "../helpers/engine.js";

const engine = testEngine();
after(() => engine.close());

const CODE = [
  "import asyncio",
  "prices = await asyncio.gather(*[price(item=i) for i in ['a', 'b', 'c']])",
  "best = max(prices)",
  "stock = await inventory(item=['a', 'b', 'c'][prices.index(best)])",
  "print(best, stock)",
].join("\n");

describe("journal: the ordered record an execution can be resumed from", () => {
  test("records code, calls in guest order and results; replaying it reproduces the execution", async () => {
    const tools = [codeTool("price"), codeTool("inventory")];
    const answers: Record<string, number> = { a: 3, b: 9, c: 4 };
    const original = engine.execute({ code: CODE, tools });
    for await (const event of original) {
      if (event.type !== "tool-call") continue;
      const item = String(event.call.input.item);
      // Answer out of issue order, with a delay, as a remote client would.
      setTimeout(
        () => {
          original.submitToolResult(event.call.id, {
            value: event.call.name === "price" ? answers[item] : `${item}:12`,
          });
        },
        10 * (3 - Object.keys(answers).indexOf(item)),
      );
    }
    const result = await original.result;
    assert.equal(result.stdout, "9 b:12\n");
    const journal = original.journal();
    const calls = journal.filter((entry) => entry.type === "tool-call");
    assert.deepEqual(
      calls.map((entry) => entry.input),
      [{ item: "a" }, { item: "b" }, { item: "c" }, { item: "b" }],
    );
    // Guest call ids are strictly increasing: the order the script issued its calls.
    const sequence = calls.map((entry) => entry.guestCallId);
    assert.deepEqual(
      [...sequence].sort((x, y) => x - y),
      sequence,
    );
    // The start and end entries, keys in their written order; a Python start names no language.
    const start = journal[0];
    assert.equal(start?.type, "execution-start");
    assert.deepEqual(Object.keys(start ?? {}), ["type", "code", "containerId", "toolNames", "seq", "at"]);
    assert.ok(start?.type === "execution-start" && start.code === CODE && start.seq === 0);
    assert.deepEqual(start?.type === "execution-start" ? start.toolNames : [], ["price", "inventory"]);
    const end = journal.at(-1);
    assert.deepEqual(Object.keys(end ?? {}), ["type", "status", "error", "seq", "at"]);
    assert.ok(end?.type === "execution-end" && end.status === "completed" && end.error === null);
    assert.equal(end?.seq, journal.length - 1);

    // Replay: the same code in a fresh container, each call answered from the journal by its
    // position in guest order; no tool runs again and the output is the same.
    const replayed = await replay(journal, tools);
    assert.equal(replayed, result.stdout);
  });
});

async function replay(journal: readonly JournalEntry[], tools: ReturnType<typeof codeTool>[]): Promise<string> {
  const start = journal.find((entry) => entry.type === "execution-start");
  assert.ok(start?.type === "execution-start");
  const calls = journal.filter((entry) => entry.type === "tool-call").sort((a, b) => a.guestCallId - b.guestCallId);
  const outcomes = new Map(
    journal.flatMap((entry) => (entry.type === "tool-result" ? [[entry.callId, entry.outcome] as const] : [])),
  );
  const execution = engine.execute({ code: start.code, tools });
  let position = 0;
  for await (const event of execution) {
    if (event.type !== "tool-call") continue;
    const recorded = calls[position++];
    assert.ok(recorded);
    assert.equal(event.call.name, recorded.name);
    assert.deepEqual(event.call.input, recorded.input);
    const outcome = outcomes.get(recorded.callId);
    assert.ok(outcome?.ok);
    execution.submitToolResult(event.call.id, { value: outcome.value });
  }
  return (await execution.result).stdout;
}
