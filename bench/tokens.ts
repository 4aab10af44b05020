/**
 * `npm run bench:tokens`: the five example use cases, each as two conversations through `runAgent` and a
 * real adapter (official SDK) against the scripted model server: traditional (every tool offered directly,
 * one model turn per call, every result in context) and programmatic (one code_execution turn running the
 * example script, then the answer). The model's choices are scripted; the tools, the sandbox, the requests
 * and the token counts (o200k_base over each whole request) are real.
 *
 * Then the OpenAI flow (tokens-responses.ts): the same use cases as an OpenAI SDK client's conversations with
 * ptc's `POST /v1/responses` (traditional function calling against programmatic tool calling, whose program
 * is the example in JavaScript), on the same adapter's upstream format.
 *
 *   npm run bench:tokens                     # Anthropic adapter (and upstream of the OpenAI flow)
 *   npm run bench:tokens -- --adapter openai # or `both`
 *   npm run bench:tokens -- --json
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { AgentMode, AgentRunResult } from "../src/agent/agent-types.js";
import { runAgent } from "../src/agent/run-agent.js";
import { createEngine } from "../src/engine/engine.js";
import { createSampleTools } from "../src/sample/index.js";
import { createAnthropicUpstream } from "../src/upstream/anthropic-upstream.js";
import { createOpenAIUpstream } from "../src/upstream/openai-upstream.js";
import type { UpstreamModel } from "../src/upstream/upstream-model.js";
import {
  type RecordedRequest,
  type ScriptedTurn,
  startScriptedModelServer,
} from "../test/helpers/scripted-model-server.js";
import {
  programmaticScript,
  type Recording,
  recordUseCase,
  SYSTEM_PROMPT,
  traditionalScript,
  USE_CASES,
  type UseCase,
} from "./tokens-cases.js";
import { formatTokenTable, type ModeCounts, type UseCaseRow } from "./tokens-report.js";
import { responsesFlowRows } from "./tokens-responses.js";

type AdapterName = "anthropic" | "openai";
const MODEL_NAME = "scripted-model";

function parseArguments(argv: readonly string[]): { adapters: AdapterName[]; json: boolean } {
  const index = argv.indexOf("--adapter");
  const choice = index >= 0 ? argv[index + 1] : "anthropic";
  if (choice !== "anthropic" && choice !== "openai" && choice !== "both") {
    throw new Error(`--adapter must be anthropic, openai or both, got ${String(choice)}`);
  }
  return { adapters: choice === "both" ? ["anthropic", "openai"] : [choice], json: argv.includes("--json") };
}

function toolResultErrors(transcript: readonly Anthropic.MessageParam[]): string[] {
  return transcript.flatMap((message) =>
    typeof message.content === "string"
      ? []
      : message.content.flatMap((block) =>
          block.type === "tool_result" && block.is_error ? [String(block.content).slice(0, 200)] : [],
        ),
  );
}

/** Fails the bench rather than report counts of a conversation that went wrong. */
function check(useCase: UseCase, mode: AgentMode, script: ScriptedTurn[], run: AgentRunResult, recording: Recording) {
  const problems: string[] = [];
  if (run.stopReason !== "end_turn") problems.push(`stopped with ${run.stopReason}`);
  if (run.turns.length !== script.length) problems.push(`${run.turns.length} turns, scripted ${script.length}`);
  if (run.answer !== recording.stdout.trim()) problems.push(`answer ${JSON.stringify(run.answer)}`);
  problems.push(...toolResultErrors(run.transcript).map((error) => `tool error: ${error}`));
  if (mode === "programmatic" && run.executions[0]?.stdout !== recording.stdout) {
    problems.push(`script printed ${JSON.stringify(run.executions[0]?.stdout)}`);
  }
  if (problems.length > 0) throw new Error(`${useCase.name} (${mode}): ${problems.join("; ")}`);
}

async function main(): Promise<void> {
  const { adapters, json } = parseArguments(process.argv.slice(2));
  const startedAt = performance.now();
  const tools = createSampleTools();
  const engine = createEngine({ pool: { size: 1 } });
  const server = await startScriptedModelServer();
  const upstreams: Record<AdapterName, () => UpstreamModel> = {
    anthropic: () => createAnthropicUpstream({ apiKey: "bench", baseURL: server.url }),
    openai: () => createOpenAIUpstream({ apiKey: "bench", baseURL: server.openaiBaseURL }),
  };
  const rows: UseCaseRow[] = [];
  try {
    const recordings = new Map<string, Recording>();
    for (const useCase of USE_CASES) {
      if (!recordings.has(useCase.script)) recordings.set(useCase.script, await recordUseCase(engine, tools, useCase));
    }
    for (const adapter of adapters) {
      for (const useCase of USE_CASES) {
        const recording = recordings.get(useCase.script) as Recording;
        const counts = {} as Record<AgentMode, ModeCounts>;
        for (const mode of ["traditional", "programmatic"] as const) {
          const script =
            mode === "traditional" ? traditionalScript(recording, useCase.shape) : programmaticScript(recording);
          server.setScript(script);
          const start = server.requests.length;
          const run = await runAgent({
            model: { upstream: upstreams[adapter](), name: MODEL_NAME },
            tools,
            prompt: useCase.prompt,
            system: SYSTEM_PROMPT,
            mode,
            engine,
            maxTurns: script.length,
          });
          check(useCase, mode, script, run, recording);
          const requests: RecordedRequest[] = server.requests.slice(start);
          const inputTokens = requests.reduce((sum, request) => sum + request.inputTokens, 0);
          // The adapter's reported usage is the server's count of the same requests.
          if (inputTokens !== run.usage.inputTokens) {
            throw new Error(`${useCase.name}: server counted ${inputTokens}, run reports ${run.usage.inputTokens}`);
          }
          counts[mode] = {
            mode,
            turns: run.turns.length,
            toolCalls: run.turns.reduce((sum, turn) => sum + turn.toolCalls + turn.scriptToolCalls, 0),
            inputTokens,
            largestRequestTokens: Math.max(...requests.map((request) => request.inputTokens)),
            outputTokens: run.usage.outputTokens,
            toolBytesInContext: run.toolResultBytesInContext,
          };
        }
        if (counts.traditional.toolCalls !== counts.programmatic.toolCalls) {
          throw new Error(`${useCase.name}: ${counts.traditional.toolCalls} vs ${counts.programmatic.toolCalls} calls`);
        }
        rows.push({
          useCase: useCase.name,
          adapter,
          traditional: counts.traditional,
          programmatic: counts.programmatic,
        });
      }
    }
    for (const adapter of adapters) rows.push(...(await responsesFlowRows(engine, server, tools, USE_CASES, adapter)));
  } finally {
    await server.close();
    await engine.close();
  }

  const seconds = (performance.now() - startedAt) / 1000;
  if (json) {
    process.stdout.write(`${JSON.stringify({ rows, seconds }, null, 2)}\n`);
    return;
  }
  for (const adapter of adapters) {
    process.stdout.write(`\nadapter: ${adapter} (scripted model; o200k_base counts of every request)\n\n`);
    process.stdout.write(`${formatTokenTable(rows.filter((row) => row.adapter === adapter))}\n`);
  }
  for (const adapter of adapters) {
    process.stdout.write(
      `\nOpenAI flow: OpenAI SDK → ptc /v1/responses → ${adapter} upstream; programs in JavaScript (scripted model; o200k_base counts of every upstream request)\n\n`,
    );
    process.stdout.write(`${formatTokenTable(rows.filter((row) => row.adapter === `responses/${adapter}`))}\n`);
  }
  process.stdout.write(`\nbench:tokens took ${seconds.toFixed(1)} s\n`);
}

await main();
