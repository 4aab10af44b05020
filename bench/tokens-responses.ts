/**
 * `npm run bench:tokens`'s OpenAI flow: the use cases as conversations of an OpenAI SDK client with ptc's
 * `POST /v1/responses`, on an upstream of the scripted model server. Traditional: the sample tools are
 * function tools the model calls one turn at a time (the client runs each and sends its output back, which
 * the model then reads). Programmatic: the `programmatic_tool_calling` tool and the same functions callable
 * only by programs; the model writes one JavaScript program (tokens-javascript-cases.ts), which ptc runs,
 * pausing at each call for the client to run it; only what the program prints reaches the model. The client
 * runs the same tool handlers in both. Counts are the scripted server's, of every upstream request.
 */
import type OpenAI from "openai-v7";
import type { Engine } from "../src/engine/engine.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import { callContext } from "../test/helpers/engine.js";
import { startResponsesEndpoint } from "../test/helpers/responses-endpoint.js";
import type { RecordedRequest, ScriptedModelServer, ScriptedTurn } from "../test/helpers/scripted-model-server.js";
import { type Recording, recordProgram, SYSTEM_PROMPT, traditionalScript, type UseCase } from "./tokens-cases.js";
import { JAVASCRIPT_PROGRAMS } from "./tokens-javascript-cases.js";
import type { ModeCounts, UseCaseRow } from "./tokens-report.js";

type Mode = "traditional" | "programmatic";
type Item = OpenAI.Responses.ResponseInputItem;
const MODEL = "scripted-model";
const PROGRAM_TOOL = "programmatic_tool_calling";

function functionTools(tools: readonly ToolDefinition[], mode: Mode): OpenAI.Responses.Tool[] {
  const functions = tools.map(
    (tool): OpenAI.Responses.FunctionTool => ({
      type: "function",
      name: tool.name,
      description: tool.description,
      parameters: tool.inputSchema as Record<string, unknown>,
      strict: false,
      ...(tool.outputSchema ? { output_schema: tool.outputSchema as Record<string, unknown> } : {}),
      allowed_callers: [mode === "traditional" ? "direct" : "programmatic"],
    }),
  );
  return mode === "traditional" ? functions : [{ type: PROGRAM_TOOL }, ...functions];
}

/** One programmatic_tool_calling turn running the program, then the answer. */
function programScript(recording: Recording): ScriptedTurn[] {
  return [{ toolCalls: [{ name: PROGRAM_TOOL, input: { code: recording.code } }] }, { text: recording.stdout.trim() }];
}

/** The client's side: each function call the response asks for (the model's, or a program's) run here. */
async function converse(
  client: OpenAI,
  tools: readonly ToolDefinition[],
  useCase: UseCase,
  mode: Mode,
): Promise<{ answer: string; calls: number; bytesToModel: number }> {
  const requestTools = functionTools(tools, mode);
  let input: Item[] = [{ role: "user", content: useCase.prompt }];
  const create = () =>
    client.responses.create({ model: MODEL, instructions: SYSTEM_PROMPT, tools: requestTools, input, store: false });
  let response = await create();
  let calls = 0;
  let bytesToModel = 0;
  for (;;) {
    for (const item of response.output) {
      if (item.type === "program_output") bytesToModel += Buffer.byteLength(item.result);
    }
    const pending = response.output.filter((item) => item.type === "function_call");
    if (pending.length === 0) return { answer: response.output_text, calls, bytesToModel };
    input = [...input, ...(response.output as Item[])];
    for (const call of pending) {
      if (call.type !== "function_call") continue;
      const tool = tools.find((each) => each.name === call.name);
      if (!tool?.handler) throw new Error(`${useCase.name}: the model called ${call.name}, which has no handler`);
      const output = JSON.stringify(await tool.handler(JSON.parse(call.arguments), callContext()));
      // What a direct call returns goes to the model; a program's call goes only to the program.
      if (call.caller?.type !== "program") bytesToModel += Buffer.byteLength(output);
      input.push({
        type: "function_call_output",
        call_id: call.call_id,
        output,
        ...(call.caller ? { caller: call.caller } : {}),
      });
      calls++;
    }
    response = await create();
  }
}

/**
 * The use cases through `/v1/responses` on an `upstream` of the scripted model server, both ways. Programs
 * are recorded first (run once in the engine), so the traditional conversation makes the same calls.
 */
export async function responsesFlowRows(
  engine: Engine,
  model: ScriptedModelServer,
  tools: readonly ToolDefinition[],
  useCases: readonly UseCase[],
  upstream: "anthropic" | "openai",
): Promise<UseCaseRow[]> {
  const endpoint = await startResponsesEndpoint(engine, model, upstream);
  const rows: UseCaseRow[] = [];
  try {
    const client = endpoint.client();
    for (const useCase of useCases) {
      const code = JAVASCRIPT_PROGRAMS[useCase.script];
      if (!code) throw new Error(`no JavaScript program for ${useCase.script}`);
      const recording = await recordProgram(engine, tools, code, {
        language: "javascript",
        label: `${useCase.script} as JavaScript`,
      });
      const counts = {} as Record<Mode, ModeCounts>;
      for (const mode of ["traditional", "programmatic"] as const) {
        const script = mode === "traditional" ? traditionalScript(recording, useCase.shape) : programScript(recording);
        model.setScript(script);
        const start = model.requests.length;
        const run = await converse(client, tools, useCase, mode);
        const requests: RecordedRequest[] = model.requests.slice(start);
        const problems = [
          run.answer.trim() !== recording.stdout.trim() ? `answered ${JSON.stringify(run.answer.slice(0, 200))}` : "",
          requests.length !== script.length ? `${requests.length} upstream requests, scripted ${script.length}` : "",
          run.calls !== recording.calls.length ? `${run.calls} calls, recorded ${recording.calls.length}` : "",
        ].filter(Boolean);
        if (problems.length > 0) throw new Error(`${useCase.name} (responses, ${mode}): ${problems.join("; ")}`);
        counts[mode] = {
          mode,
          turns: requests.length,
          toolCalls: run.calls,
          inputTokens: requests.reduce((sum, request) => sum + request.inputTokens, 0),
          largestRequestTokens: Math.max(...requests.map((request) => request.inputTokens)),
          outputTokens: requests.reduce((sum, request) => sum + request.outputTokens, 0),
          toolBytesInContext: run.bytesToModel,
        };
      }
      rows.push({
        useCase: useCase.name,
        adapter: `responses/${upstream}`,
        traditional: counts.traditional,
        programmatic: counts.programmatic,
      });
    }
  } finally {
    await endpoint.close();
  }
  return rows;
}
