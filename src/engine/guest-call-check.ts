// What the host checks of a guest's tool call before anything of it runs or is kept: the child is untrusted,
// so the name's length, the input's size, the execution's budget, the JSON and the tool's schema, in that
// order, each refusal with its stable code and only as much of the input as a record may keep.
import { ErrorCode } from "../protocol/errors.js";
import { isJsonObject, type JsonValue } from "../protocol/json-schema.js";
import type { ExecutionLimits } from "../protocol/limits.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { ToolCallBudget } from "./tool-call-budget.js";

/** A refused call's input is kept in its record only up to this size: the reason is what matters. */
export const MAX_REFUSED_INPUT_KEPT_BYTES = 4_096;

export type GuestCallCheck =
  | { ok: true; input: Record<string, unknown>; inputBytes: number }
  | {
      ok: false;
      /** The name as the record shows it (cut when it was too long to be a tool's). */
      name: string;
      /** What the record keeps of the input: the parsed object when small enough, else `{}`. */
      kept: Record<string, unknown>;
      inputBytes: number;
      code: string;
      message: string;
      /**
       * The input, when it parsed and is small enough to keep: the refusal is journaled with it, so that a
       * replay of the script, which makes this call again, finds it in the journal.
       */
      journaledInput?: JsonValue;
    };

/** Checks one call the guest made; counts it against `budget` once its name and size pass. */
export function checkGuestCall(
  name: string,
  inputJson: string,
  limits: ExecutionLimits,
  registry: ToolRegistry,
  budget: ToolCallBudget,
  maxNameChars: number,
): GuestCallCheck {
  const refused = (code: string, message: string, inputBytes = 0, shown = name): GuestCallCheck => ({
    ok: false,
    name: shown,
    kept: {},
    inputBytes,
    code,
    message,
  });
  if (name.length > maxNameChars) {
    const shown = `${name.slice(0, 64)}…`;
    return refused(ErrorCode.ToolNotFound, `Tool "${shown}" is not available`, 0, shown);
  }
  // Bytes, not UTF-16 units: a raw bridge call can send non-ASCII text (json.dumps never does).
  const inputBytes = Buffer.byteLength(inputJson);
  if (inputBytes > limits.maxToolInputBytes) {
    return refused(
      ErrorCode.ToolInputTooLarge,
      `input of ${name} exceeds ${limits.maxToolInputBytes} bytes`,
      inputBytes,
    );
  }
  // Counted whether the call is then refused or not; one past the total is refused unread (tool-call-budget.ts).
  // Refused unread, and not journaled: its input is held nowhere (a replay of it diverges, honestly).
  const over = budget.admitInput(name, inputBytes) ?? budget.admitCall();
  if (over) return refused(over.code, over.message, inputBytes);
  let input: unknown;
  try {
    input = JSON.parse(inputJson);
  } catch {
    return refused(ErrorCode.InvalidToolInput, `input of ${name} is not valid JSON`, inputBytes);
  }
  const check = registry.checkCodeCall(name, input, inputJson);
  if (check.ok) return { ok: true, input: check.input, inputBytes };
  // Kept, and journaled, only when small enough: the host holds no big refused input.
  const keep = check.unrecordable !== true && inputBytes <= MAX_REFUSED_INPUT_KEPT_BYTES;
  const refusal: GuestCallCheck = {
    ok: false,
    name,
    kept: keep && isJsonObject(input) ? input : {},
    inputBytes,
    code: check.code,
    message: check.message,
  };
  if (keep) refusal.journaledInput = input as JsonValue;
  return refusal;
}
