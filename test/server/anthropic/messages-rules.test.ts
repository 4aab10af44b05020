import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type Endpoint, KEY_B, postRaw, startEndpoint } from "../../helpers/anthropic-endpoint.js";
import { delay, testEngine } from "../../helpers/engine.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../../helpers/scripted-model-server.js";

const MODEL = "claude-sonnet-5";
const CODE_TOOL: Anthropic.ToolUnion = { type: "code_execution_20260120", name: "code_execution" };
const lookup = (extra: Partial<Anthropic.Tool> = {}): Anthropic.Tool => ({
  name: "lookup",
  input_schema: { type: "object", properties: { key: { type: "string" } } },
  allowed_callers: ["code_execution_20260120"],
  ...extra,
});
const tools: Anthropic.ToolUnion[] = [CODE_TOOL, lookup()];
const GATHER = `import asyncio
a, b = await asyncio.gather(lookup({"key": "a"}), lookup({"key": "b"}))
print(a, b)`;
const ask: Anthropic.MessageParam = { role: "user", content: "Look up a and b." };

const engine = testEngine();
// The idle timeout is the engine's (one option for every API): the short-lived endpoint has an engine of its own.
const shortLivedEngine = testEngine({ pool: { size: 1 }, containerIdleTimeoutMs: 1_000 });
let model: ScriptedModelServer;
let main: Endpoint;
let shortLived: Endpoint;
let shortPending: Endpoint;
before(async () => {
  model = await startScriptedModelServer();
  main = await startEndpoint(engine, model, "anthropic");
  shortLived = await startEndpoint(shortLivedEngine, model, "anthropic");
  shortPending = await startEndpoint(engine, model, "anthropic", { executionLimits: { pendingToolTimeoutMs: 800 } });
});
after(async () => {
  await main.close();
  await shortLived.close();
  await shortPending.close();
  await model.close();
  await engine.close();
  await shortLivedEngine.close();
});

async function rejects(
  promise: Promise<unknown>,
  status: number,
  type: string,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof Anthropic.APIError, String(error));
    assert.equal(error.status, status);
    const body = error.error as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, type);
    if (typeof message === "string") assert.equal(body.error.message, message);
    else assert.match(body.error.message, message);
    return true;
  });
}

/** A first turn that pauses on two lookups; returns the paused message. */
async function pause(endpoint: Endpoint, code = GATHER): Promise<Anthropic.Message> {
  model.setScript([{ toolCalls: [{ name: "code_execution", input: { code } }] }, { text: "Done." }]);
  const message = await endpoint.client().messages.create({ model: MODEL, max_tokens: 256, tools, messages: [ask] });
  assert.equal(message.stop_reason, "tool_use");
  return message;
}

function resumeParams(
  paused: Anthropic.Message,
  answers: Anthropic.ContentBlockParam[],
  container: string | undefined = paused.container?.id,
): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 256,
    tools,
    messages: [ask, { role: "assistant", content: paused.content }, { role: "user", content: answers }],
    ...(container ? { container } : {}),
  };
}

function answersFor(paused: Anthropic.Message): Anthropic.ToolResultBlockParam[] {
  return paused.content
    .filter((block) => block.type === "tool_use")
    .map((block) => ({
      type: "tool_result",
      tool_use_id: block.id,
      content: `value of ${String((block.input as { key: string }).key)}`,
    }));
}

describe("Anthropic endpoint: documented 400s", () => {
  test("malformed bodies are Anthropic-shaped 400s, never a crash or a stack", async () => {
    const cases: Array<[string, RegExp]> = [
      ["not json", /JSON/],
      ["[]", /object/],
      ["{}", /model: Field required/],
      [JSON.stringify({ model: MODEL }), /max_tokens: Field required/],
      [JSON.stringify({ model: MODEL, max_tokens: "ten", messages: [] }), /max_tokens/],
      [JSON.stringify({ model: MODEL, max_tokens: 10 }), /messages: Field required/],
      [JSON.stringify({ model: 5, max_tokens: 10, messages: [] }), /model/],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: "hi" }), /messages/],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: "bot", content: "x" }] }), /role/],
      [
        JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: [{ type: "tool_use" }] }] }),
        /id/,
      ],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: [ask], tools: "all" }), /tools/],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: [ask], tools: [{ name: "x" }] }), /input_schema/],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: [ask], stream: "yes" }), /stream/],
      [JSON.stringify({ model: MODEL, max_tokens: 10, messages: [ask], container: 42 }), /container/],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await postRaw(main.url, body);
      assert.equal(status, 400, body);
      assert.equal(json.type, "error");
      assert.equal(json.error?.type, "invalid_request_error", body);
      assert.match(json.error?.message ?? "", message, body);
      assert.doesNotMatch(json.error?.message ?? "", /\n\s+at /, "no stack trace");
    }
  });

  test("tool rules: code-only tool_choice, circular $ref, strict from code, allowed_callers without a code tool", async () => {
    const client = main.client();
    const base = { model: MODEL, max_tokens: 64, messages: [ask] };
    await rejects(
      client.messages.create({ ...base, tools, tool_choice: { type: "tool", name: "lookup" } }),
      400,
      "invalid_request_error",
      /tool_choice: tool "lookup" can only be called from code execution/,
    );
    const recursive: Anthropic.Tool.InputSchema = {
      type: "object",
      properties: { tree: { $ref: "#/$defs/node" } },
      $defs: { node: { type: "object", properties: { children: { type: "array", items: { $ref: "#/$defs/node" } } } } },
    };
    await rejects(
      client.messages.create({ ...base, tools: [CODE_TOOL, lookup({ input_schema: recursive })] }),
      400,
      "invalid_request_error",
      /^Circular \$ref detected/,
    );
    await rejects(
      client.messages.create({ ...base, tools: [CODE_TOOL, lookup({ strict: true })] }),
      400,
      "invalid_request_error",
      /strict: true, and strict tools cannot be called from code execution/,
    );
    await rejects(
      client.messages.create({ ...base, tools: [lookup()] }),
      400,
      "invalid_request_error",
      /allowed_callers, but the request has no code execution tool/,
    );
    await rejects(
      client.messages.create({ ...base, tools, tool_choice: { type: "auto", disable_parallel_tool_use: true } }),
      400,
      "invalid_request_error",
      /disable_parallel_tool_use/,
    );
    await rejects(
      client.messages.create({ ...base, tools: [{ type: "web_search_20250305", name: "web_search" }] }),
      400,
      "invalid_request_error",
      /not supported/,
    );
    // A direct tool may still be forced; a non-recursive $ref is fine.
    model.setScript([{ text: "ok" }]);
    const ok = await client.messages.create({
      ...base,
      tools: [CODE_TOOL, lookup({ name: "direct_one", allowed_callers: ["direct"] })],
      tool_choice: { type: "tool", name: "direct_one" },
    });
    assert.equal(ok.stop_reason, "end_turn");
  });

  test("resume rules: container required, only tool_results beside them, every call answered, another key's container", async () => {
    const paused = await pause(main);
    const answers = answersFor(paused);
    const client = main.client();
    await rejects(
      client.messages.create(resumeParams(paused, answers, "")),
      400,
      "invalid_request_error",
      "container_id is required when there are pending tool uses generated by code execution with tools.",
    );
    await rejects(
      client.messages.create(resumeParams(paused, [...answers, { type: "text", text: "and also..." }])),
      400,
      "invalid_request_error",
      /must contain only tool_result blocks/,
    );
    await rejects(
      client.messages.create(resumeParams(paused, answers.slice(0, 1))),
      400,
      "invalid_request_error",
      /tool_use ids were found without tool_result blocks/,
    );
    // Another key's container is reported exactly like an unknown one.
    await rejects(
      main.client(KEY_B).messages.create(resumeParams(paused, answers)),
      404,
      "not_found_error",
      /not found/,
    );
    await rejects(
      client.messages.create(resumeParams(paused, answers, "container_01doesnotexist")),
      404,
      "not_found_error",
      /not found/,
    );
    // None of the refusals disturbed the paused script.
    const final = await client.messages.create(resumeParams(paused, answers));
    const result = final.content[0];
    assert.equal(result?.type, "code_execution_tool_result");
    assert.deepEqual(result.type === "code_execution_tool_result" ? result.content : undefined, {
      type: "code_execution_result",
      stdout: "value of a value of b\n",
      stderr: "",
      return_code: 0,
      content: [],
    });
  });
});

describe("Anthropic endpoint: timing", () => {
  test("an idle container expires: resuming it is a clear 400 container_expired", async () => {
    const paused = await pause(shortLived);
    await delay(1_800);
    await rejects(
      shortLived.client().messages.create(resumeParams(paused, answersFor(paused))),
      400,
      "invalid_request_error",
      /^container_expired: container container_\w+ has expired/,
    );
  });

  test("a pending call times out in the script with TimeoutError; a late answer resumes nothing and the turn completes", async () => {
    const code = `try:
    value = await lookup({"key": "slow"})
    print("got", value)
except TimeoutError as error:
    print("timed out:", type(error).__name__)`;
    const paused = await pause(shortPending, code);
    await delay(1_200);
    const final = await shortPending.client().messages.create(resumeParams(paused, answersFor(paused)));
    assert.equal(final.stop_reason, "end_turn");
    const result = final.content[0];
    assert.equal(result?.type, "code_execution_tool_result");
    const content = result.type === "code_execution_tool_result" ? result.content : undefined;
    assert.equal(
      content?.type === "code_execution_result" ? content.stdout : undefined,
      "timed out: ToolTimeoutError\n",
    );
    assert.equal(final.content[1]?.type, "text");
  });
});

describe("Anthropic endpoint: upstream errors", () => {
  test("overloaded upstream → 529 overloaded_error; other upstream failures → 502 api_error; in a stream, an error event", async () => {
    const client = main.client();
    const params = { model: MODEL, max_tokens: 64, tools, messages: [ask] };
    model.setScript([{ error: { status: 529, type: "overloaded_error", message: "Overloaded" } }]);
    await rejects(client.messages.create(params), 529, "overloaded_error", /Overloaded/);
    model.setScript([{ error: { status: 500, type: "api_error", message: "boom" } }]);
    await rejects(client.messages.create(params), 502, "api_error", /boom/);
    model.setScript([{ error: { status: 529, type: "overloaded_error", message: "Overloaded" } }]);
    await assert.rejects(client.messages.stream(params).finalMessage(), (error: unknown) => {
      assert.ok(error instanceof Anthropic.APIError);
      assert.equal((error.error as { error: { type: string } }).error.type, "overloaded_error");
      return true;
    });
  });
});
