import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, describe, test } from "node:test";
import { testEngine } from "../helpers/engine.js";

interface RecordedBlock {
  type: string;
  name?: string;
  input?: { code?: string; player?: string };
  content?: { stdout?: string; return_code?: number };
}

const engine = testEngine();
after(() => engine.close());

describe("code recorded from Anthropic's hosted code execution runs unchanged", () => {
  test("dice game: asyncio.run(main()), dict arguments, gather of two pending calls, string results", async () => {
    const recorded = JSON.parse(
      await readFile("test/fixtures/anthropic-recorded/anthropic-programmatic-tool-calling.1.json", "utf8"),
    ) as { content: RecordedBlock[] };
    const code = recorded.content.find((block) => block.type === "server_tool_use")?.input?.code;
    const expected = recorded.content.find((block) => block.type === "code_execution_tool_result")?.content;
    assert.ok(code && expected?.stdout);
    // The rolls Anthropic's client returned, per player, read back from the recorded stdout.
    const rolls: Record<string, string[]> = { player1: [], player2: [] };
    for (const match of expected.stdout.matchAll(/Player (\d) rolls: (\d)/g)) {
      rolls[`player${match[1]}`]?.push(match[2] as string);
    }
    const rollDie = {
      name: "rollDie",
      description: "Roll a die for a player.",
      inputSchema: { type: "object", properties: { player: { type: "string" } }, required: ["player"] },
      allowedCallers: ["code_execution_20250825" as const],
    };
    // Text mode: every result is a str, as the hosted container delivers it.
    const execution = engine.execute({ code, tools: [rollDie], resultMode: "text" });
    let largestBatch = 0;
    for await (const event of execution) {
      if (event.type !== "tool-call") continue;
      const pending = execution.pendingToolCalls();
      // Both players roll at once (asyncio.gather): wait until both calls are pending, like the recording.
      if (pending.length < 2) continue;
      largestBatch = Math.max(largestBatch, pending.length);
      for (const call of pending) {
        const value = rolls[String(call.input.player)]?.shift();
        assert.ok(value, `no recorded roll left for ${String(call.input.player)}`);
        execution.submitToolResult(call.id, { value });
      }
    }
    const result = await execution.result;
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.equal(result.returnCode, expected.return_code);
    assert.equal(result.stdout, expected.stdout);
    assert.equal(largestBatch, 2);
    assert.ok(result.toolCalls.every((call) => call.name === "rollDie" && call.resolvedBy === "caller"));
  });
});
