import { z } from "zod";
import type { ToolResultSubmission } from "../../engine/tool-call-broker.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import type { ResultMode, ScriptLanguage } from "../../protocol/execution.js";
import type { ExecutionLimits } from "../../protocol/limits.js";
import type { ToolCallerSpelling, ToolDefinition } from "../../protocol/tool.js";
import { SCRIPT_LANGUAGES } from "../../tools/script-language.js";

/** How long a request blocks for the execution to finish or pause, by default and at most (seconds). */
export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 60;

const positive = z.number().int().positive();
const waitSeconds = z.number().min(0).max(MAX_WAIT_SECONDS);

/** Wire (snake_case) names of `ExecutionLimits`. */
const LIMIT_NAMES = {
  wall_timeout_ms: "wallTimeoutMs",
  active_timeout_ms: "activeTimeoutMs",
  tool_timeout_ms: "toolTimeoutMs",
  pending_tool_timeout_ms: "pendingToolTimeoutMs",
  max_tool_calls: "maxToolCalls",
  max_concurrent_tool_calls: "maxConcurrentToolCalls",
  max_output_bytes: "maxOutputBytes",
  memory_bytes: "memoryBytes",
  max_tool_input_bytes: "maxToolInputBytes",
  max_total_tool_input_bytes: "maxTotalToolInputBytes",
  max_tool_result_bytes: "maxToolResultBytes",
  max_total_tool_result_bytes: "maxTotalToolResultBytes",
} as const satisfies Record<string, keyof ExecutionLimits>;

const LimitsSchema = z.strictObject(
  Object.fromEntries(Object.keys(LIMIT_NAMES).map((name) => [name, positive.optional()])) as Record<
    keyof typeof LIMIT_NAMES,
    z.ZodOptional<typeof positive>
  >,
);

const ClientToolSchema = z.strictObject({
  name: z.string().min(1).max(128),
  description: z.string().max(100_000).optional(),
  input_schema: z.record(z.string(), z.unknown()),
  allowed_callers: z.array(z.string()).optional(),
});

const CreateExecutionSchema = z.strictObject({
  code: z.string().max(1_048_576),
  language: z.enum(SCRIPT_LANGUAGES).optional(),
  container: z.string().min(1).max(200).optional(),
  tools: z.array(ClientToolSchema).max(1_000).optional(),
  limits: LimitsSchema.optional(),
  result_mode: z.enum(["json", "text"]).optional(),
  wait: waitSeconds.optional(),
});

/** A call's answer: `value` or `content` (Anthropic's name; the same thing), or `error`, as in `submitToolResult`. */
const ToolResultItemSchema = z.strictObject({
  call_id: z.string().min(1),
  value: z.unknown().optional(),
  content: z.unknown().optional(),
  error: z.strictObject({ message: z.string(), code: z.string().min(1).max(100).optional() }).optional(),
});

const SubmitToolResultsSchema = z.strictObject({
  results: z.array(ToolResultItemSchema).min(1).max(1_000),
  wait: waitSeconds.optional(),
});

export interface CreateExecutionRequest {
  code: string;
  /** Absent: Python. */
  language: ScriptLanguage | undefined;
  container: string | undefined;
  tools: ToolDefinition[];
  limits: Partial<ExecutionLimits>;
  resultMode: ResultMode | undefined;
  waitMs: number;
}

export interface SubmitToolResultsRequest {
  results: Array<{ callId: string; submission: ToolResultSubmission }>;
  waitMs: number;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`);
  throw new PtcError(ErrorCode.InvalidRequest, `invalid request: ${problems.join("; ")}`);
}

/** Client tools pause for the client (no handler). Their only caller here is code, hence that default. */
export function parseCreateExecution(body: unknown, ceilings: Readonly<ExecutionLimits>): CreateExecutionRequest {
  const request = parse(CreateExecutionSchema, body);
  const limits: Partial<ExecutionLimits> = {};
  for (const [wireName, name] of Object.entries(LIMIT_NAMES) as Array<
    [keyof typeof LIMIT_NAMES, keyof ExecutionLimits]
  >) {
    const value = request.limits?.[wireName];
    if (value === undefined) continue;
    // A client may tighten the server's limits, never loosen them.
    if (value > ceilings[name]) {
      throw new PtcError(ErrorCode.InvalidRequest, `limits.${wireName} may not exceed the server's ${ceilings[name]}`);
    }
    limits[name] = value;
  }
  const tools = (request.tools ?? []).map(
    (tool): ToolDefinition => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      inputSchema: tool.input_schema,
      allowedCallers: (tool.allowed_callers ?? ["code_execution"]) as ToolCallerSpelling[],
    }),
  );
  return {
    code: request.code,
    language: request.language,
    container: request.container,
    tools,
    limits,
    resultMode: request.result_mode,
    waitMs: (request.wait ?? DEFAULT_WAIT_SECONDS) * 1000,
  };
}

export function parseSubmitToolResults(body: unknown): SubmitToolResultsRequest {
  const request = parse(SubmitToolResultsSchema, body);
  const results = request.results.map((item, index) => {
    const given = (["value", "content", "error"] as const).filter((field) => field in item);
    if (given.length !== 1) {
      throw new PtcError(
        ErrorCode.InvalidRequest,
        `invalid request: results.${index}: give exactly one of value, content or error`,
      );
    }
    const submission: ToolResultSubmission =
      item.error !== undefined
        ? { error: item.error.code !== undefined ? item.error : { message: item.error.message } }
        : { value: "value" in item ? item.value : item.content };
    return { callId: item.call_id, submission };
  });
  return { results, waitMs: (request.wait ?? DEFAULT_WAIT_SECONDS) * 1000 };
}

/** `?wait=SECONDS` on GET: 0 (answer at once) unless asked. */
export function parseWaitQuery(value: string | undefined): number {
  if (value === undefined) return 0;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) {
    throw new PtcError(ErrorCode.InvalidRequest, `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  return seconds * 1000;
}
