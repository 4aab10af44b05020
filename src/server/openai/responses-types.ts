// The slice of OpenAI's Responses API wire format `/v1/responses` speaks, as the official SDK (openai
// 7.60, `resources/responses/responses.ts`) types it. Declared here rather than imported: the runtime
// `openai` dependency (6.x, for Node 20) predates the `program`/`program_output` items, and these shapes are
// the contract, not a library's. The tests check them against the 7.60 SDK's own types.

/** `Response.usage`. */
export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cache_write_tokens: number; cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface FunctionCaller {
  type: "program";
  /** The call id of the program that made the call. */
  caller_id: string;
}

/** `ResponseFunctionToolCall`: a direct call (no `caller`) or one a program made. */
export interface FunctionCallItem {
  id: string;
  type: "function_call";
  status: "in_progress" | "completed" | "incomplete";
  arguments: string;
  call_id: string;
  name: string;
  caller?: FunctionCaller;
}

/** `ResponseOutputItem.Program`: the JavaScript the model wrote, with ptc's signed replay token. */
export interface ProgramItem {
  id: string;
  type: "program";
  call_id: string;
  code: string;
  fingerprint: string;
}

/** `ResponseOutputItem.ProgramOutput`: what the program passed to `text()` once it ended. */
export interface ProgramOutputItem {
  id: string;
  type: "program_output";
  status: "completed" | "incomplete";
  call_id: string;
  result: string;
}

export interface OutputText {
  type: "output_text";
  annotations: never[];
  logprobs: never[];
  text: string;
}

/** `ResponseOutputMessage`. */
export interface MessageItem {
  id: string;
  type: "message";
  status: "in_progress" | "completed" | "incomplete";
  content: OutputText[];
  /** `final_answer` on the upstream's last turn, `commentary` on text beside tool calls. */
  phase: "commentary" | "final_answer";
  role: "assistant";
}

export type OutputItem = MessageItem | FunctionCallItem | ProgramItem | ProgramOutputItem;

/** A request tool as echoed in `Response.tools`. */
export type WireTool =
  | { type: "programmatic_tool_calling" }
  | {
      type: "function";
      name: string;
      description?: string | null;
      parameters: Record<string, unknown> | null;
      strict: boolean | null;
      allowed_callers?: Array<"direct" | "programmatic"> | null;
      output_schema?: Record<string, unknown> | null;
    };

export type WireToolChoice =
  | "auto"
  | "none"
  | "required"
  | { type: "function"; name: string }
  | { type: "programmatic_tool_calling" };

export interface ResponseError {
  code: string;
  message: string;
}

/** `Response` (the SDK computes `output_text` itself). */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  completed_at: number | null;
  status: "completed" | "in_progress" | "failed" | "incomplete";
  background: false;
  error: ResponseError | null;
  incomplete_details: { reason: "max_output_tokens" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: null;
  model: string;
  access_programs: null;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  store: boolean;
  temperature: number | null;
  top_p: number | null;
  text: { format: { type: "text" } };
  tool_choice: WireToolChoice;
  tools: WireTool[];
  truncation: "disabled";
  usage: ResponseUsage | null;
  user: null;
  metadata: Record<string, string>;
  frequency_penalty: number;
  presence_penalty: number;
  moderation: null;
  prompt_cache_key: null;
  prompt_cache_retention: null;
  reasoning: null;
  safety_identifier: null;
  service_tier: "default";
  top_logprobs: number;
}

/** The stream events `/v1/responses` sends, each with its `sequence_number` added by the writer. */
export type ResponseStreamEvent =
  | {
      type: "response.created" | "response.in_progress" | "response.completed" | "response.failed";
      response: ResponseObject;
    }
  | { type: "response.output_item.added" | "response.output_item.done"; output_index: number; item: OutputItem }
  | { type: "response.function_call_arguments.delta"; item_id: string; output_index: number; delta: string }
  | { type: "response.function_call_arguments.done"; item_id: string; output_index: number; arguments: string }
  | {
      type: "response.content_part.added" | "response.content_part.done";
      item_id: string;
      output_index: number;
      content_index: number;
      part: OutputText;
    }
  | {
      type: "response.output_text.delta";
      item_id: string;
      output_index: number;
      content_index: number;
      delta: string;
      logprobs: never[];
    }
  | {
      type: "response.output_text.done";
      item_id: string;
      output_index: number;
      content_index: number;
      text: string;
      logprobs: never[];
    };
