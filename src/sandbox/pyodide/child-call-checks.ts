// The child's own checks on a guest's tool call, before it becomes a frame. A courtesy to the host, which
// checks every frame again: they spare it floods and frames it would have to refuse. Part of the child:
// erasable syntax, and only intrinsics captured before guest code runs (child-intrinsics.ts).
import { type BridgeCaps, MAX_ERROR_REPORT_CHARS, RefusalCode } from "./bridge.ts";
import { indexOf, sliceText } from "./child-intrinsics.ts";

/** The caps until the first run frame sets them: none apply (the warm-up makes no calls). */
export const CAPS_BEFORE_FIRST_RUN: BridgeCaps = {
  maxOutputBytes: 0,
  memoryBytes: 0,
  maxToolInputBytes: Number.POSITIVE_INFINITY,
  maxToolCalls: Number.POSITIVE_INFINITY,
  maxToolNameChars: Number.POSITIVE_INFINITY,
  maxInputDepth: 0,
  errorReportChars: MAX_ERROR_REPORT_CHARS,
};

/** Refusals past the call limit before the script is stopped outright (each raised in one of its tasks). */
export const REFUSALS_BEFORE_STOP = 1000;

export interface CallRefusal {
  code: string;
  message: string;
  /** Set when the script must be stopped: it kept calling long after the limit. */
  stop?: string;
}

/**
 * Why the child refuses the run's `callNumber`-th call itself, or null to forward it. The host refuses
 * calls past the limit; the one after it still goes there (the host records the limit), the rest are
 * refused here, so an `asyncio.gather` of 100,000 calls never floods the host.
 */
export function refuseCall(name: string, input: string, caps: BridgeCaps, callNumber: number): CallRefusal | null {
  const { maxToolCalls, maxToolInputBytes } = caps;
  if (callNumber > maxToolCalls + 1) {
    const message = `tool call limit of ${maxToolCalls} reached`;
    if (callNumber > maxToolCalls + 1 + REFUSALS_BEFORE_STOP) {
      return {
        code: RefusalCode.ToolCallLimit,
        message,
        stop: `${message}; the script kept calling tools and was stopped`,
      };
    }
    return { code: RefusalCode.ToolCallLimit, message };
  }
  if (name.length > caps.maxToolNameChars) {
    return { code: RefusalCode.ToolNotFound, message: `Tool "${sliceText(name, 0, 64)}…" is not available` };
  }
  if (input.length > maxToolInputBytes) {
    return { code: RefusalCode.ToolInputTooLarge, message: `input of ${name} exceeds ${maxToolInputBytes} bytes` };
  }
  // A newline would split the frame; only a raw bridge call can produce one (json.dumps never does).
  if (indexOf(input, "\n") !== -1 || indexOf(name, "\n") !== -1) {
    return { code: RefusalCode.InvalidToolInput, message: "malformed tool input" };
  }
  return null;
}
