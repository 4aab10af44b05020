/**
 * The five example use cases as scripted conversations. The tool calls of the traditional conversation
 * are the ones the example script really makes, recorded from a run of the script in the sandbox, so
 * both conversations reach the same answer through the same tool calls.
 */
import { readFile } from "node:fs/promises";
import type { Engine } from "../src/engine/engine.js";
import type { ScriptLanguage } from "../src/protocol/execution.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import type { ScriptedToolCall, ScriptedTurn } from "../test/helpers/scripted-model-server.js";

/**
 * How the scripted model groups the recorded calls into turns in traditional mode. `sequential`: one
 * call per turn, each waiting for the previous result (what the script itself does). `gather`: the first
 * call alone (its result names the rest), then all the others as parallel tool_use blocks in one turn.
 */
export type TraditionalShape = "sequential" | "gather";

export interface UseCase {
  name: string;
  script: string;
  prompt: string;
  shape: TraditionalShape;
}

export const SYSTEM_PROMPT =
  "You are a data assistant for a retail company. Use the tools to answer the user's question, then state the answer briefly.";

export const USE_CASES: readonly UseCase[] = [
  {
    name: "sales: top of 5 regions",
    script: "examples/sales/top-region.py",
    prompt:
      "Which of the five core regions (North, South, East, West, Central) brought in the most completed-order revenue?",
    shape: "sequential",
  },
  {
    name: "batch: 50 regions (parallel)",
    script: "examples/batch/fifty-regions.py",
    prompt: "Rank all regions by completed-order revenue: give the top 3 and the grand total.",
    shape: "gather",
  },
  {
    name: "batch: 50 regions (1 per turn)",
    script: "examples/batch/fifty-regions.py",
    prompt: "Rank all regions by completed-order revenue: give the top 3 and the grand total.",
    shape: "sequential",
  },
  {
    name: "conditional: read if small",
    script: "examples/conditional/read-if-small.py",
    prompt:
      "What revenue does /reports/q3-summary.txt report, and what does /reports/full-ledger.csv look like? Don't read large files whole.",
    shape: "sequential",
  },
  {
    name: "filtering: errors in 10k logs",
    script: "examples/filtering/error-logs.py",
    prompt: "How many ERROR entries are in the last 10,000 log lines? Show the last 10 errors.",
    shape: "sequential",
  },
  {
    name: "early termination: first healthy",
    script: "examples/early-termination/first-healthy.py",
    prompt:
      "Check https://api-1.internal/health to https://api-5.internal/health in order; which is the first healthy one?",
    shape: "sequential",
  },
];

export interface Recording {
  code: string;
  /** The script's tool calls in the order the script made them. */
  calls: ScriptedToolCall[];
  /** What the script printed: both scripted models give it as their final answer. */
  stdout: string;
}

/** Runs the example once in the sandbox and records its tool calls in guest order, from the execution's journal. */
export async function recordUseCase(
  engine: Engine,
  tools: readonly ToolDefinition[],
  useCase: UseCase,
): Promise<Recording> {
  return recordProgram(engine, tools, await readFile(useCase.script, "utf8"), { label: useCase.script });
}

/** Runs `code` once in the sandbox and records its tool calls in guest order, from the execution's journal. */
export async function recordProgram(
  engine: Engine,
  tools: readonly ToolDefinition[],
  code: string,
  options: { language?: ScriptLanguage; label: string },
): Promise<Recording> {
  const { language = "python", label } = options;
  const execution = engine.execute({ code, tools, language });
  const result = await execution.result;
  if (result.status !== "completed" || result.toolCalls.some((call) => !call.ok)) {
    throw new Error(`${label} failed: ${JSON.stringify(result.error ?? result.toolCalls).slice(0, 400)}`);
  }
  const calls = execution
    .journal()
    .flatMap((entry) => (entry.type === "tool-call" ? [entry] : []))
    .sort((a, b) => a.guestCallId - b.guestCallId)
    .map((entry) => ({ name: entry.name, input: entry.input as Record<string, unknown> }));
  return { code, calls, stdout: result.stdout };
}

/** One model turn per call (or the gather grouping), then the answer. */
export function traditionalScript(recording: Recording, shape: TraditionalShape): ScriptedTurn[] {
  const [first, ...rest] = recording.calls;
  const groups =
    shape === "gather" && first !== undefined && rest.length > 0
      ? [[first], rest]
      : recording.calls.map((call) => [call]);
  return [...groups.map((toolCalls) => ({ toolCalls })), { text: recording.stdout.trim() }];
}

/** One code_execution turn running the example script as written, then the answer. */
export function programmaticScript(recording: Recording): ScriptedTurn[] {
  return [
    { toolCalls: [{ name: "code_execution", input: { code: recording.code } }] },
    { text: recording.stdout.trim() },
  ];
}
