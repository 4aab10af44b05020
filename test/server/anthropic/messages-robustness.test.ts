import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { defineTool } from "../../../src/protocol/tool.js";
import { createAdmissionController } from "../../../src/server/admission.js";
import { type Endpoint, KEY_A, startEndpoint } from "../../helpers/anthropic-endpoint.js";
import { delay, testEngine } from "../../helpers/engine.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../../helpers/scripted-model-server.js";

const MODEL = "claude-sonnet-5";
const tools: Anthropic.ToolUnion[] = [
  { type: "code_execution_20260120", name: "code_execution" },
  {
    name: "lookup",
    input_schema: { type: "object", properties: { key: { type: "string" } } },
    allowed_callers: ["code_execution_20260120"],
  },
];
const ask: Anthropic.MessageParam = { role: "user", content: "Look things up." };

/** A server tool that blocks until its call is cancelled: a script in it is running, not paused. */
let slowCalls = 0;
let slowCancelled = 0;
const slow = defineTool<Record<string, never>, string>({
  name: "slow",
  inputSchema: { type: "object" },
  allowedCallers: ["code_execution"],
  handler: (_input, context) =>
    new Promise((resolve) => {
      slowCalls++;
      const timer = setTimeout(() => resolve("finished"), 60_000);
      context.signal.addEventListener("abort", () => {
        slowCancelled++;
        clearTimeout(timer);
        resolve("cancelled");
      });
    }),
});

const engine = testEngine({ tools: [slow], pool: { size: 1 } });
let model: ScriptedModelServer;
let endpoint: Endpoint;
before(async () => {
  model = await startScriptedModelServer();
  endpoint = await startEndpoint(engine, model, "anthropic", { serverTools: [slow] });
});
after(async () => {
  await endpoint.close();
  await model.close();
  await engine.close();
});

const codeCall = (code: string) => ({ name: "code_execution", input: { code } });

function params(messages: Anthropic.MessageParam[], container?: string): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 256, tools, messages, ...(container ? { container } : {}) };
}

function answers(message: Anthropic.Message): Anthropic.ToolResultBlockParam[] {
  return message.content
    .filter((block) => block.type === "tool_use")
    .map((block) => ({
      type: "tool_result",
      tool_use_id: block.id,
      content: `v-${(block.input as { key: string }).key}`,
    }));
}

/** The conversation so far: the question, the paused reply, and the client's answers to its calls. */
function answered(paused: Anthropic.Message): Anthropic.MessageParam[] {
  return [ask, { role: "assistant", content: paused.content }, { role: "user", content: answers(paused) }];
}

/** Asks the question; the reply pauses in a container; the resume answers its calls there. */
async function pauseThenResume(
  client: Anthropic,
): Promise<{ container: string; resume: Anthropic.MessageCreateParamsNonStreaming }> {
  const paused = await client.messages.create(params([ask]));
  const container = paused.container?.id;
  assert.ok(container);
  return { container, resume: params(answered(paused), container) };
}

function stdoutOf(block: Anthropic.ContentBlock | undefined): string | undefined {
  if (block?.type !== "code_execution_tool_result") return undefined;
  return block.content.type === "code_execution_result" ? block.content.stdout : undefined;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

describe("Anthropic endpoint: several code_execution calls in one upstream turn", () => {
  for (const stream of [false, true]) {
    test(`${stream ? "streaming" : "non-streaming"}: they run one after another in the container, each pause reported with its own caller`, async () => {
      model.setScript([
        {
          toolCalls: [
            codeCall(`a = await lookup({"key": "a"})\nprint("A", a)`),
            codeCall(`b = await lookup({"key": "b"})\nprint("B", a, b)`),
          ],
        },
        { text: "Both done." },
      ]);
      const client = endpoint.client();
      const send = async (body: Anthropic.MessageCreateParamsNonStreaming) =>
        stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body);

      const first = await send(params([ask]));
      assert.equal(first.stop_reason, "tool_use");
      assert.deepEqual(
        first.content.map((block) => block.type),
        ["server_tool_use", "tool_use", "server_tool_use"],
      );
      const [codeA, callA, codeB] = first.content as [
        Anthropic.ServerToolUseBlock,
        Anthropic.ToolUseBlock,
        Anthropic.ServerToolUseBlock,
      ];
      assert.deepEqual(callA.caller, { type: "code_execution_20260120", tool_id: codeA.id });
      const container = first.container?.id;
      assert.ok(container);

      const history = answered(first);
      const second = await send(params(history, container));
      // The first script ends, the second starts in the same container and pauses on its own call.
      assert.equal(second.stop_reason, "tool_use");
      assert.deepEqual(
        second.content.map((block) => block.type),
        ["code_execution_tool_result", "tool_use"],
      );
      assert.equal((second.content[0] as Anthropic.CodeExecutionToolResultBlock).tool_use_id, codeA.id);
      assert.equal(stdoutOf(second.content[0]), "A v-a\n");
      assert.deepEqual((second.content[1] as Anthropic.ToolUseBlock).caller, {
        type: "code_execution_20260120",
        tool_id: codeB.id,
      });
      assert.equal(second.container?.id, container);

      history.push({ role: "assistant", content: second.content }, { role: "user", content: answers(second) });
      const final = await send(params(history, container));
      assert.equal(final.stop_reason, "end_turn");
      assert.deepEqual(
        final.content.map((block) => block.type),
        ["code_execution_tool_result", "text"],
      );
      assert.equal((final.content[0] as Anthropic.CodeExecutionToolResultBlock).tool_use_id, codeB.id);
      assert.equal(stdoutOf(final.content[0]), "B v-a v-b\n", "the second script sees the first one's globals");

      // The upstream saw one assistant turn with both calls and one user turn with both results, in order.
      const upstream = model.requests.at(-1)?.body.messages as Anthropic.MessageParam[];
      const calls = upstream.at(-2)?.content as Anthropic.ToolUseBlockParam[];
      const results = upstream.at(-1)?.content as Anthropic.ToolResultBlockParam[];
      assert.deepEqual(
        calls.map((block) => [block.type, block.name]),
        [
          ["tool_use", "code_execution"],
          ["tool_use", "code_execution"],
        ],
      );
      assert.deepEqual(
        results.map((block) => block.tool_use_id),
        calls.map((block) => block.id),
      );
      assert.match(String(results[0]?.content), /A v-a/);
      assert.match(String(results[1]?.content), /B v-a v-b/);
    });
  }
});

describe("Anthropic endpoint: failures in the middle of a request", () => {
  test("a client that disconnects mid-stream cancels its running script; nothing it queued runs later", async () => {
    // Script A pauses on the client; B is queued behind it in the same upstream turn.
    model.setScript([
      {
        toolCalls: [codeCall(`v = await lookup({"key": "a"})\nawait slow({})\nprint("A")`), codeCall(`print("B ran")`)],
      },
      { toolCalls: [codeCall(`print("C ran")`)] },
      { text: "Fresh answer." },
    ]);
    const client = endpoint.client();
    const first = await client.messages.create(params([ask]));
    const container = first.container?.id;
    assert.ok(container);
    const history = answered(first);

    // Resume A (it then blocks in `slow`) and go away mid-stream.
    const callsBefore = slowCalls;
    const cancelledBefore = slowCancelled;
    const abort = new AbortController();
    const resumed = client.messages.stream(params(history, container), { signal: abort.signal });
    const consumed = (async () => {
      for await (const _event of resumed) {
        // reading until the abort
      }
    })();
    await until(() => slowCalls > callsBefore, "script A to reach slow()");
    abort.abort();
    await assert.rejects(consumed);
    await until(() => slowCancelled > cancelledBefore, "the script's running call to be cancelled");
    await until(() => engine.stats().running === 0, "no execution left running");

    // The client moves on in the same container: only C runs, never the abandoned B.
    const next = await client.messages.create(params([ask, { role: "user", content: "Something else." }], container));
    assert.equal(next.stop_reason, "end_turn");
    assert.deepEqual(
      next.content.map((block) => block.type),
      ["server_tool_use", "code_execution_tool_result", "text"],
    );
    assert.equal(stdoutOf(next.content[1]), "C ran\n");
  });

  test("the upstream fails after a resumed script ended: resending the same resume goes on from the script's result", async () => {
    model.setScript([
      { toolCalls: [codeCall(`x = await lookup({"key": "x"})\nprint("got", x)`)] },
      { error: { status: 529, type: "overloaded_error", message: "Overloaded" } },
      { text: "It is v-x." },
    ]);
    const client = endpoint.client();
    const { container, resume } = await pauseThenResume(client);
    await assert.rejects(client.messages.create(resume), (error: unknown) => {
      assert.ok(error instanceof Anthropic.APIError);
      assert.equal(error.status, 529);
      return true;
    });
    // What the SDK does on its own with its default retries.
    const retried = await client.messages.create(resume);
    assert.equal(retried.stop_reason, "end_turn");
    assert.deepEqual(
      retried.content.map((block) => block.type),
      ["code_execution_tool_result", "text"],
    );
    assert.equal(stdoutOf(retried.content[0]), "got v-x\n");
    assert.equal(retried.container?.id, container);
    const upstream = model.requests.at(-1)?.body.messages as Anthropic.MessageParam[];
    assert.match(JSON.stringify(upstream.at(-1)), /got v-x/);
  });

  test("tool_results sent again after the script moved on are refused at once, not left waiting", async () => {
    model.setScript([
      { toolCalls: [codeCall(`a = await lookup({"key": "a"})\nb = await lookup({"key": "b"})\nprint(a, b)`)] },
      { text: "Done." },
    ]);
    const client = endpoint.client();
    const { container, resume } = await pauseThenResume(client);
    const second = await client.messages.create(resume);
    assert.equal(second.stop_reason, "tool_use");
    const startedAt = Date.now();
    await assert.rejects(client.messages.create(resume, { timeout: 5_000 }), (error: unknown) => {
      assert.ok(error instanceof Anthropic.APIError, String(error));
      assert.equal(error.status, 400);
      assert.match(String((error.error as { error: { message: string } }).error.message), /already answered/);
      return true;
    });
    assert.ok(Date.now() - startedAt < 4_000);
    // The script still waits for b, and answering it finishes the turn.
    const final = await client.messages.create(
      params(
        [
          ...resume.messages,
          { role: "assistant", content: second.content },
          { role: "user", content: answers(second) },
        ],
        container,
      ),
    );
    assert.equal(stdoutOf(final.content[0]), "v-a v-b\n");
  });
});

describe("Anthropic endpoint: the server's admission controller", () => {
  test("each script holds a slot until it ends; with none free and no room to queue, 529 overloaded_error with Retry-After", async () => {
    const admission = createAdmissionController({
      maxRunningExecutions: 1,
      maxQueuedExecutions: 0,
      retryAfterSeconds: 3,
    });
    const capped = await startEndpoint(engine, model, "anthropic", { serverTools: [slow], admission });
    try {
      const client = capped.client();
      model.setScript([{ toolCalls: [codeCall(`x = await lookup({"key": "x"})\nprint(x)`)] }]);
      const paused = await client.messages.create(params([ask]));
      assert.equal(paused.stop_reason, "tool_use");
      assert.equal(admission.stats().running, 1, "a paused script keeps its slot");

      for (const stream of [false, true]) {
        model.setScript([{ toolCalls: [codeCall(`print("second")`)] }]);
        const other = params([{ role: "user", content: "Another conversation." }]);
        const attempt = stream ? client.messages.stream(other).finalMessage() : client.messages.create(other);
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof Anthropic.APIError, String(error));
          assert.equal((error.error as { error: { type: string } }).error.type, "overloaded_error");
          if (!stream) {
            assert.equal(error.status, 529);
            assert.equal(error.headers?.get("retry-after"), "3");
          }
          return true;
        });
      }

      model.setScript([{ text: "x is v-x." }]);
      const final = await client.messages.create(params(answered(paused), paused.container?.id));
      assert.equal(stdoutOf(final.content[0]), "v-x\n");
      await until(() => admission.stats().running === 0, "the finished script to give its slot back");
    } finally {
      await capped.close();
    }
  });

  test("error bodies have Anthropic.ErrorResponse's shape, request_id included", async () => {
    const response = await fetch(`${endpoint.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY_A },
      body: JSON.stringify({ model: MODEL, messages: [ask] }),
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as Anthropic.ErrorResponse;
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(body.error.message, "max_tokens: Field required");
    assert.ok(body.request_id);
    assert.equal(body.request_id, response.headers.get("request-id"));
  });
});
