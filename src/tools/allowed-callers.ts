import { ErrorCode, PtcError } from "../protocol/errors.js";
import type { ToolCaller } from "../protocol/tool.js";

/** Anthropic dates each revision of its code-execution tool; every dated spelling means the same caller. */
const VERSIONED_CODE_EXECUTION = /^code_execution_\d{8}$/;

const ACCEPTED = '"direct", "code_execution", "code_execution_YYYYMMDD", "programmatic"';

function normalizeCaller(spelling: unknown): ToolCaller {
  if (spelling === "direct") return "direct";
  if (spelling === "code_execution" || spelling === "programmatic") return "code_execution";
  if (typeof spelling === "string" && VERSIONED_CODE_EXECUTION.test(spelling)) return "code_execution";
  throw new PtcError(
    ErrorCode.InvalidRequest,
    `Unknown allowedCallers value ${JSON.stringify(spelling) ?? String(spelling)}; expected one of ${ACCEPTED}`,
    { value: typeof spelling === "string" ? spelling : String(spelling) },
  );
}

/**
 * Maps Anthropic's and OpenAI's spellings of `allowedCallers` onto ptc's two callers.
 * Omitted means `["direct"]`, as in Anthropic's API; an empty list would make the tool unreachable, so it is rejected.
 */
export function normalizeCallers(spellings?: readonly string[]): ReadonlySet<ToolCaller> {
  if (spellings === undefined) return new Set<ToolCaller>(["direct"]);
  if (!Array.isArray(spellings)) {
    throw new PtcError(ErrorCode.InvalidRequest, `allowedCallers must be an array of strings; expected ${ACCEPTED}`);
  }
  if (spellings.length === 0) {
    throw new PtcError(
      ErrorCode.InvalidRequest,
      `allowedCallers must not be empty; omit it for ["direct"] or use ${ACCEPTED}`,
    );
  }
  return new Set(spellings.map(normalizeCaller));
}
