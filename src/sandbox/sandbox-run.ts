import { DEFAULT_MAX_TOOL_INPUT_BYTES } from "../protocol/limits.js";
import { MAX_TOOL_INPUT_DEPTH } from "../tools/input-guard.js";
import type { GuestError } from "./guest-error-report.js";
import type { MemoryLimitStop } from "./memory-watch.js";
import {
  encodeRunFrame,
  type GuestLanguage,
  MAX_ERROR_REPORT_CHARS,
  MAX_TOOL_NAME_CHARS,
  maxChildFrameChars,
  type OutputStream,
  type ReplayFrame,
} from "./pyodide/bridge.js";

// One script run in a sandbox process: what the host asks for, what it hears while the script runs, how the
// run ends, and the run frame the request becomes on the child's stdin.

export type SandboxRunOutcome =
  | {
      kind: "done";
      error: GuestError | null;
      dropped: { stdout: number; stderr: number };
      memoryLimitHit: boolean;
    }
  | {
      kind: "exited";
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      diagnostics: string;
      /** The sandbox ran out of memory: the host killed it past its bound, or V8's heap limit ended it. */
      memoryLimit?: MemoryLimitStop;
    };

export interface SandboxRunRequest {
  code: string;
  /** Default python. JavaScript and TypeScript run in a fresh QuickJS of their own: Python's state is untouched. */
  language?: GuestLanguage;
  /** Tools with `allowedCallers` (lacking `code_execution`) get a stub that raises `tool_not_allowed`. */
  tools: ReadonlyArray<{ name: string; pythonName: string; allowedCallers?: readonly string[] }>;
  resultMode: "json" | "text";
  maxOutputBytes: number;
  memoryBytes: number;
  /** Tool inputs above this are refused in the child; a longer frame kills the sandbox. */
  maxToolInputBytes?: number;
  /**
   * The child forwards one call past this (for the host to refuse and record) and refuses the rest itself.
   * Default: none.
   */
  maxToolCalls?: number;
  /** Seeds Python's `random` before the script: a container's first run in this sandbox (bridge.ts `RunFrame`). */
  seed?: number;
  /** The child numbers the guest's calls from 1 again, as a new process does (bridge.ts `RunFrame`). */
  restartCallIds?: boolean;
  /** Runs a journaled execution again, its calls answered in the child (bridge.ts `ReplayFrame`). */
  replay?: ReplayFrame;
}

export interface SandboxRunListener {
  /** `inputJson` is untrusted text from guest code; the host validates it. */
  onToolCall(callId: number, name: string, inputJson: string): void;
  onOutput(stream: OutputStream, text: string): void;
  /** The child started dropping this stream's output at the cap (`dropped`: bytes of the first refused write). */
  onTruncated?(stream: OutputStream, dropped: number): void;
  /** The script has nothing to run until an outstanding tool call returns (or a timer fires). */
  onIdle?(): void;
  /** After an idle report, a timer woke the script: it is computing again. */
  onBusy?(): void;
  /** The script gave up on this call (its task was cancelled): no result is expected any more. */
  onToolCancel?(callId: number): void;
}

function maxToolInputBytes(request: SandboxRunRequest): number {
  return request.maxToolInputBytes ?? DEFAULT_MAX_TOOL_INPUT_BYTES;
}

/** The longest line the child may send during the run; a longer one kills the sandbox. */
export function runMaxFrameChars(request: SandboxRunRequest): number {
  return maxChildFrameChars({
    maxToolInputBytes: maxToolInputBytes(request),
    errorReportChars: MAX_ERROR_REPORT_CHARS,
  });
}

/** The run frame (bridge.ts `RunFrame`) that starts `request` in the child, with the limits it enforces there. */
export function runFrame(request: SandboxRunRequest): string {
  const language = request.language ?? "python";
  return encodeRunFrame({
    code: request.code,
    ...(language !== "python" ? { language } : {}),
    tools: JSON.stringify(request.tools),
    resultMode: request.resultMode,
    caps: {
      maxOutputBytes: request.maxOutputBytes,
      memoryBytes: request.memoryBytes,
      maxToolInputBytes: maxToolInputBytes(request),
      maxToolCalls: request.maxToolCalls ?? 0,
      maxToolNameChars: MAX_TOOL_NAME_CHARS,
      maxInputDepth: MAX_TOOL_INPUT_DEPTH,
      errorReportChars: MAX_ERROR_REPORT_CHARS,
    },
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.restartCallIds ? { restartCallIds: true } : {}),
    ...(request.replay ? { replay: request.replay } : {}),
  });
}
