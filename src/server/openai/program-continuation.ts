import type { InputItem } from "./input-items.js";
import { openaiInvalid } from "./openai-errors.js";
import type { AnsweredCall } from "./program-session.js";

type ProgramInput = Extract<InputItem, { type: "program" }>;

/** The program a request continues: the last `program` of its input without a `program_output`. */
export interface OpenProgram {
  item: ProgramInput;
  /** Its calls (function_call items whose caller is the program), in order, each with the client's output. */
  answered: AnsweredCall[];
}

/**
 * Finds the program the request continues, and checks what OpenAI checks: every function call the input
 * holds has its `function_call_output` ("No tool output found for function call …"), except the calls of
 * programs that already ended (their outputs are the program's business). Undefined when no program is open.
 */
export function openProgram(items: readonly InputItem[]): OpenProgram | undefined {
  const outputs = new Map<string, Extract<InputItem, { type: "function_call_output" }>>();
  const ended = new Set<string>();
  const programs = new Set<string>();
  let open: ProgramInput | undefined;
  for (const item of items) {
    if (item.type === "function_call_output") outputs.set(item.call_id, item);
    if (item.type === "program_output") ended.add(item.call_id);
    if (item.type === "program") programs.add(item.call_id);
  }
  for (const item of items) if (item.type === "program" && !ended.has(item.call_id)) open = item;
  const answered: AnsweredCall[] = [];
  for (const item of items) {
    if (item.type !== "function_call") continue;
    const output = outputs.get(item.call_id);
    const callerId =
      item.caller?.type === "program"
        ? item.caller.caller_id
        : output?.caller?.type === "program"
          ? output.caller.caller_id
          : undefined;
    if (callerId !== undefined && ended.has(callerId)) continue;
    if (callerId !== undefined && !programs.has(callerId)) {
      throw openaiInvalid(
        `Function call ${item.call_id} was made by program ${callerId}, which is not in the input: send the program item with its calls.`,
        "input",
        null,
      );
    }
    if (!output) {
      throw openaiInvalid(`No tool output found for function call ${item.call_id}.`, "input", null);
    }
    if (open && callerId === open.call_id) {
      answered.push({ callId: item.call_id, name: item.name, arguments: item.arguments, output: output.output });
    }
  }
  return open && { item: open, answered };
}
