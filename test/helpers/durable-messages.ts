/**
 * `/v1/messages` on durable `ptc serve` nodes as its durability tests drive it: the official Anthropic SDK
 * (only `baseURL` set) against real child processes (durable-serve.ts) whose upstream is the scripted model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import {
  DURABLE_KEY,
  durableConfig,
  handlerCalls,
  kill9,
  type NodeOptions,
  scratchDirectory,
  startNode,
} from "./durable-serve.js";
import { type ScriptedModelServer, startScriptedModelServerForFile } from "./scripted-model-server.js";
import type { ServingCli } from "./server.js";

export const MODEL = "claude-sonnet-5";
export const CODE_TOOL: Anthropic.ToolUnion = { type: "code_execution_20260120", name: "code_execution" };
/** A client tool code may call: the client answers it. */
export const ASK_TOOL: Anthropic.ToolUnion = {
  name: "ask",
  input_schema: { type: "object", properties: { q: { type: "string" } } },
  allowed_callers: ["code_execution_20260120"],
};
export const TOOLS: Anthropic.ToolUnion[] = [CODE_TOOL, ASK_TOOL];

/** A counting handler before a gather of client calls, then one more client call: 42 v-a v-b v-c. */
export const GATHER = [
  "import asyncio",
  't = await tally({"n": 21})',
  'a, b = await asyncio.gather(ask({"q": "a"}), ask({"q": "b"}))',
  'c = await ask({"q": "c"})',
  "print(t, a, b, c)",
].join("\n");
export const GATHER_STDOUT = "42 v-a v-b v-c\n";

export const userTurn = (content: string): Anthropic.MessageParam => ({ role: "user", content });

/** The scripted model's turn that runs `code`. */
export const runCode = (code: string) => ({ toolCalls: [{ name: "code_execution", input: { code } }] });

/** The config of a node whose upstream is `model`, with `server` settings added (lease TTL, eviction). */
export function messagesConfig(dir: string, model: ScriptedModelServer, server: Record<string, unknown> = {}): string {
  return durableConfig(dir, {
    upstream: { provider: "anthropic", baseURL: model.url, apiKey: "upstream-key" },
    ...server,
  });
}

/** A node that can be killed with SIGKILL and started again on the same store (on a new port). */
export class MessagesNode {
  private constructor(
    public cli: ServingCli,
    private readonly options: NodeOptions,
  ) {}

  static async start(options: NodeOptions): Promise<MessagesNode> {
    return new MessagesNode(await startNode(options), options);
  }

  get url(): string {
    return this.cli.url;
  }

  /** The SDK as a user sets it up: only `baseURL` (and the key) differ from Anthropic's defaults. */
  client(maxRetries = 0): Anthropic {
    return new Anthropic({ baseURL: this.url, apiKey: DURABLE_KEY, maxRetries });
  }

  /** What this node answered with a bare 500, as it logged it (its stderr's "unhandled error" lines). */
  unhandledErrors(): string[] {
    return this.cli
      .stderr()
      .split("\n")
      .filter((line) => line.includes('"msg":"unhandled error"'));
  }

  /** kill -9, then the same node again on the same store. */
  async crash(): Promise<void> {
    await kill9(this.cli);
    this.cli = await startNode(this.options);
  }

  kill(): Promise<void> {
    return kill9(this.cli);
  }

  /** SIGTERM (for the file's `after`). */
  async stop(): Promise<void> {
    await this.cli.stop();
  }
}

/**
 * A node on one store in `dir` (SQLite unless `store` names one) with its handler log there. One name across
 * restarts, as a server on a fixed port has (the default is HOST:PORT, new with each `--port 0`): a restarted
 * node under a new name would find its old self's lease still fresh and answer 503 until it expired.
 */
export function nodeOptions(
  dir: string,
  config: string,
  { store = join(dir, "store.db"), nodeId = "solo" }: { store?: string; nodeId?: string } = {},
): NodeOptions {
  return { store, handlerLog: join(dir, "handlers.log"), config, nodeId };
}

/**
 * For a whole test file (top-level `await`): a scripted model and one node on SQLite driven by it, stopped
 * after the file; `count(tool)` is how many times that counting handler ran.
 */
export async function soloNodeForFile(): Promise<{
  model: ScriptedModelServer;
  node: MessagesNode;
  count: (tool: string) => number;
}> {
  const model = await startScriptedModelServerForFile();
  const dir = scratchDirectory();
  const options = nodeOptions(dir, messagesConfig(dir, model));
  const node = await MessagesNode.start(options);
  after(() => node.stop());
  const count = (tool: string) => handlerCalls(options.handlerLog).filter((line) => line.startsWith(`${tool} `)).length;
  return { model, node, count };
}

export type Params = Omit<Anthropic.MessageCreateParamsNonStreaming, "stream">;

/** `messages.create`, or `messages.stream(...).finalMessage()`: the same message either way. */
export function send(client: Anthropic, params: Params, stream: boolean): Promise<Anthropic.Message> {
  return stream ? client.messages.stream(params).finalMessage() : client.messages.create(params);
}

export function params(messages: Anthropic.MessageParam[], container?: string): Params {
  return { model: MODEL, max_tokens: 256, tools: TOOLS, messages, ...(container ? { container } : {}) };
}

/** The `tool_use` blocks code made (the calls the paused script waits on). */
export function codeCalls(message: Anthropic.Message): Anthropic.ToolUseBlock[] {
  return message.content.filter(
    (block): block is Anthropic.ToolUseBlock => block.type === "tool_use" && block.caller?.type !== "direct",
  );
}

/** Answers every code call of `message` with `answer(input.q)`. */
export function answers(
  message: Anthropic.Message,
  answer: (q: string) => string = (q) => `v-${q}`,
): Anthropic.ToolResultBlockParam[] {
  return codeCalls(message).map((call) => ({
    type: "tool_result",
    tool_use_id: call.id,
    content: answer(String((call.input as { q?: unknown }).q)),
  }));
}

/** The `q`s of the paused calls, with their ids. */
export function paused(message: Anthropic.Message): Array<{ q: string; id: string }> {
  assert.equal(message.stop_reason, "tool_use", JSON.stringify(message.content));
  return codeCalls(message).map((call) => ({ q: String((call.input as { q?: unknown }).q), id: call.id }));
}

/** What each script of `message` printed, in order (an error result as `error:CODE`). */
export function stdouts(message: Anthropic.Message): string[] {
  const out: string[] = [];
  for (const block of message.content) {
    if (block.type !== "code_execution_tool_result") continue;
    const content = block.content as { type: string; stdout?: string; stderr?: string; error_code?: string };
    out.push(content.type.endsWith("_error") ? `error:${content.error_code}` : `${content.stdout}${content.stderr}`);
  }
  return out;
}

/** The conversation so far plus `message` and the answers to its code calls. */
export function answered(
  history: Anthropic.MessageParam[],
  message: Anthropic.Message,
  answer?: (q: string) => string,
): Anthropic.MessageParam[] {
  return [
    ...history,
    { role: "assistant", content: message.content },
    { role: "user", content: answers(message, answer) },
  ];
}
