import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { runAgent } from "../../src/agent/index.js";
import type { ScriptLanguage } from "../../src/protocol/execution.js";
import { createSampleTools } from "../../src/sample/index.js";
import { testEngine } from "../helpers/engine.js";
import {
  conversationOf,
  type RecordedRequest,
  startScriptedModelServerForFile,
  upstreamAdapters,
} from "../helpers/scripted-model-server.js";

const engine = testEngine({ pool: { size: 1 } });
const server = await startScriptedModelServerForFile(engine);
const sampleTools = createSampleTools();
after(() => sampleTools.close());

const [anthropic] = upstreamAdapters(server);
assert.ok(anthropic);
const model = () => ({ upstream: anthropic.upstream(), name: "scripted-model" });

/** The `code_execution` tool of a request, as the model was offered it. */
function codeExecutionTool(request: RecordedRequest): { description: string; input_schema: unknown } {
  const tools = (request.body.tools ?? []) as Array<{ name: string; description: string; input_schema: unknown }>;
  const tool = tools.find((candidate) => candidate.name === "code_execution");
  assert.ok(tool, "code_execution offered");
  return tool;
}

const COUNT_ORDERS: Record<"javascript" | "typescript", string> = {
  javascript:
    'const rows = await tools.query_database({ sql: "SELECT COUNT(*) AS n FROM orders" });\ntext("orders: " + rows[0].n);',
  typescript: [
    "type Row = { n: number };",
    'const rows = (await tools.query_database({ sql: "SELECT COUNT(*) AS n FROM orders" })) as Row[];',
    "const count: number = rows[0]!.n;",
    "console.log('orders: ' + count);",
  ].join("\n"),
};

describe("runAgent's language", () => {
  test("the code_execution tool describes the chosen language and carries its stubs", async () => {
    for (const language of ["python", "javascript", "typescript"] as const) {
      server.setScript([{ text: "nothing to do" }]);
      const start = server.requests.length;
      await runAgent({ model: model(), tools: sampleTools, prompt: "hi", engine, language });
      const [request] = server.requests.slice(start);
      assert.ok(request);
      const tool = codeExecutionTool(request);
      if (language === "python") {
        assert.match(tool.description, /^Run Python 3 code/);
        assert.match(tool.description, /async def query_database\(\*, sql: str\)/);
        assert.doesNotMatch(tool.description, /declare const tools/);
      } else {
        assert.match(tool.description, language === "javascript" ? /^Run JavaScript in/ : /^Run TypeScript \(/);
        assert.match(tool.description, /declare const tools: \{/);
        assert.match(tool.description, / {2}query_database\(args: \{/);
        assert.match(tool.description, /declare function text\(\.\.\.values: unknown\[\]\): void;/);
        assert.doesNotMatch(tool.description, /async def /);
      }
      const name = { python: "Python", javascript: "JavaScript", typescript: "TypeScript" }[language];
      assert.match(JSON.stringify(tool.input_schema), new RegExp(`The ${name} code to run`));
    }
  });

  test("an unknown language is refused before the model is asked", async () => {
    const start = server.requests.length;
    await assert.rejects(
      runAgent({
        model: model(),
        tools: sampleTools,
        prompt: "hi",
        engine,
        language: "ruby" as ScriptLanguage,
      }),
      (error: Error & { code?: string }) =>
        error.code === "invalid_request" &&
        /language must be one of python, javascript, typescript/.test(error.message),
    );
    assert.equal(server.requests.length, start);
  });

  for (const language of ["javascript", "typescript"] as const) {
    test(`a ${language} script the model writes runs in the sandbox and its output goes back`, async () => {
      server.setScript([
        { toolCalls: [{ name: "code_execution", input: { code: COUNT_ORDERS[language] } }] },
        { text: "20,000 orders." },
      ]);
      const start = server.requests.length;
      const result = await runAgent({
        model: model(),
        tools: sampleTools,
        prompt: "How many orders?",
        engine,
        language,
      });
      const second = server.requests[start + 1];
      assert.ok(second);
      const [seen] = conversationOf(second).results;
      // text() appends as it is; console.log ends a line.
      assert.match(seen?.content ?? "", /^return_code: 0\nstdout:\norders: 20000\n?$/);
      assert.equal(result.executions.length, 1);
      assert.equal(result.executions[0]?.toolCalls.length, 1);
      assert.equal(result.answer, "20,000 orders.");
    });
  }
});
