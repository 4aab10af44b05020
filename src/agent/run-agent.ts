import { randomBytes } from "node:crypto";
import type Anthropic from "@anthropic-ai/sdk";
import { newContainerId } from "../engine/container-registry.js";
import { createEngine, type Engine } from "../engine/engine.js";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ExecutionResult } from "../protocol/execution.js";
import type { ToolDefinition } from "../protocol/tool.js";
import { openToolSources, type ToolSet } from "../sources/tool-set.js";
import type { ToolSource } from "../sources/tool-source.js";
import type { UpstreamContentBlock, UpstreamRequest, UpstreamResponse } from "../upstream/upstream-model.js";
import { resolveAgentModel } from "./agent-model.js";
import { AgentToolbox, type ToolRunOutcome } from "./agent-tools.js";
import {
  type AgentEvent,
  type AgentRunResult,
  type AgentStopReason,
  type AgentTool,
  type AgentTurn,
  DEFAULT_MAX_TOKENS,
  DEFAULT_MAX_TURNS,
  type RunAgentOptions,
} from "./agent-types.js";

function isToolSource(tool: AgentTool): tool is ToolSource {
  return typeof (tool as Partial<ToolSource>).listTools === "function";
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new PtcError(ErrorCode.InvalidRequest, `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function initialMessages(prompt: RunAgentOptions["prompt"]): Anthropic.MessageParam[] {
  if (typeof prompt === "string") return [{ role: "user", content: prompt }];
  if (prompt.length === 0 || prompt.at(-1)?.role !== "user") {
    throw new PtcError(ErrorCode.InvalidRequest, "prompt: a conversation must end with a user message");
  }
  return [...prompt];
}

const isToolUse = (block: UpstreamContentBlock): block is Anthropic.ToolUseBlockParam => block.type === "tool_use";

function replyText(content: readonly UpstreamContentBlock[]): string {
  return content
    .filter((block): block is Anthropic.TextBlockParam => block.type === "text")
    .map((block) => block.text)
    .join("\n");
}

/** Lists the tools of any sources among `tools`; the caller closes the returned set. */
async function openTools(
  tools: readonly AgentTool[],
  signal: AbortSignal | undefined,
): Promise<{ definitions: ToolDefinition[]; toolSet: ToolSet | undefined }> {
  const definitions = tools.filter((tool): tool is ToolDefinition => !isToolSource(tool));
  const sources = tools.filter(isToolSource);
  if (sources.length === 0) return { definitions, toolSet: undefined };
  const toolSet = await openToolSources(sources, signal ? { signal } : {});
  return { definitions: [...definitions, ...toolSet.tools], toolSet };
}

/**
 * The agent loop `ptc serve` runs, in-process: ask the model, answer every tool_use of its reply (direct
 * tools by their handler, `code_execution` by running the script in the run's one container), send the
 * results back, until the model ends its turn, runs out of tokens, or `maxTurns` requests were made.
 * Tool and script failures go back to the model as `is_error` tool_results; upstream errors and aborts
 * reject. Whatever the run opened (sources, its engine, its container) is closed before it returns.
 */
export async function runAgent(options: RunAgentOptions): Promise<AgentRunResult> {
  const maxTurns = positiveInteger("maxTurns", options.maxTurns, DEFAULT_MAX_TURNS);
  const maxTokens = positiveInteger("maxTokens", options.maxTokens, DEFAULT_MAX_TOKENS);
  const messages = initialMessages(options.prompt);
  const { upstream, name } = resolveAgentModel(options.model);
  const { signal } = options;
  const emit = (event: AgentEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // An observer must not change the run.
    }
  };

  signal?.throwIfAborted();
  const { definitions, toolSet } = await openTools(options.tools ?? [], signal);
  const runId = `agent_${randomBytes(12).toString("base64url")}`;
  const containerId = newContainerId();
  let engine: Engine | undefined = options.engine;
  const ownsEngine = engine === undefined;
  let usedContainer = false;
  try {
    const toolSourceFailures = (toolSet?.failures ?? []).map(({ source, error }) => ({
      source,
      message: error.message,
    }));
    for (const failure of toolSourceFailures) emit({ type: "tool-source-failed", ...failure });
    const toolbox = new AgentToolbox({
      tools: definitions,
      mode: options.mode ?? "programmatic",
      engine: () => {
        // A run's scripts share one container, so a warm pool would only start sandboxes nobody uses.
        engine ??= createEngine({ pool: { size: 0 } });
        usedContainer = true;
        return engine;
      },
      containerId,
      runId,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.resultMode ? { resultMode: options.resultMode } : {}),
      ...(options.language ? { language: options.language } : {}),
      ...(signal ? { signal } : {}),
    });

    const turns: AgentTurn[] = [];
    const executions: ExecutionResult[] = [];
    let toolResultBytesInContext = 0;
    let stopReason: AgentStopReason = "max_turns";
    let last: UpstreamResponse | undefined;

    for (let turn = 1; turn <= maxTurns; turn++) {
      signal?.throwIfAborted();
      const request: UpstreamRequest = {
        model: name,
        max_tokens: maxTokens,
        ...(options.system !== undefined ? { system: options.system } : {}),
        messages: [...messages],
        ...(toolbox.modelTools.length > 0 ? { tools: [...toolbox.modelTools] } : {}),
      };
      emit({ type: "model-request", turn, request });
      const response = await upstream.createMessage(request, signal ? { signal } : {});
      emit({ type: "model-response", turn, response });
      last = response;
      messages.push({ role: "assistant", content: response.content });
      const { usage } = response;
      const calls = response.content.filter(isToolUse);
      const record: AgentTurn = {
        inputTokens:
          usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0),
        outputTokens: usage.output_tokens,
        stopReason: response.stop_reason,
        toolCalls: calls.filter(
          (call) => !toolbox.isCodeExecution(call.name) && toolbox.refusal(call.name) === undefined,
        ).length,
        codeExecutions: calls.filter((call) => toolbox.isCodeExecution(call.name)).length,
        refusedToolCalls: calls.filter((call) => toolbox.refusal(call.name) !== undefined).length,
        scriptToolCalls: 0,
      };
      turns.push(record);

      // pause_turn: the upstream stopped early and expects the same conversation back to carry on.
      if (calls.length === 0 && response.stop_reason === "pause_turn") continue;
      // A reply cut off by max_tokens may hold a truncated tool call; never run it.
      if (calls.length === 0 || response.stop_reason === "max_tokens") {
        stopReason = response.stop_reason;
        break;
      }
      // The results of the last allowed turn could never be read, so its tools are not run.
      if (turn === maxTurns) break;

      const outcomes = await Promise.all(
        calls.map(async (call): Promise<ToolRunOutcome> => {
          emit({ type: "tool-call", turn, id: call.id, name: call.name, input: call.input });
          const outcome = await toolbox.run(call);
          if (outcome.execution) emit({ type: "execution", turn, id: call.id, result: outcome.execution });
          emit({
            type: "tool-result",
            turn,
            id: call.id,
            name: call.name,
            content: outcome.content,
            isError: outcome.isError,
          });
          return outcome;
        }),
      );
      signal?.throwIfAborted();
      const results: Anthropic.ToolResultBlockParam[] = outcomes.map((outcome, index) => {
        toolResultBytesInContext += Buffer.byteLength(outcome.content);
        if (outcome.execution) {
          executions.push(outcome.execution);
          record.scriptToolCalls += outcome.execution.toolCalls.length;
        }
        return {
          type: "tool_result",
          tool_use_id: (calls[index] as Anthropic.ToolUseBlockParam).id,
          content: outcome.content,
          ...(outcome.isError ? { is_error: true } : {}),
        };
      });
      messages.push({ role: "user", content: results });
    }

    return {
      answer: last ? replyText(last.content) : "",
      stopReason,
      transcript: messages,
      turns,
      usage: {
        inputTokens: turns.reduce((sum, turn) => sum + turn.inputTokens, 0),
        outputTokens: turns.reduce((sum, turn) => sum + turn.outputTokens, 0),
      },
      toolResultBytesInContext,
      toolResultBytesKeptOutOfContext: executions.reduce((sum, run) => sum + run.contextSavings.toolResultBytes, 0),
      tokensKeptOutOfContext: executions.reduce((sum, run) => sum + run.contextSavings.toolResultTokens, 0),
      executions,
      toolSourceFailures,
    };
  } finally {
    if (ownsEngine) await engine?.close();
    else if (usedContainer) engine?.closeContainer(containerId);
    await toolSet?.close();
  }
}
