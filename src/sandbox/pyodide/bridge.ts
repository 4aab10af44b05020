// The host <-> sandbox-child bridge: every frame either end writes or reads, the caps the host sends with
// each run, and the codes the child refuses a call with. One module, imported by the host (compiled to
// dist/) and by the child (run by Node with type stripping): erasable syntax, `import type` and sibling
// modules only. It lives in the child's directory, the one folder the child may read (sandbox-runtime.ts)
// and whose files the memory snapshot's hash covers (memory-snapshot.ts).
//
// Frames, one per line; a payload is JSON text, which never holds a raw newline:
//   host -> child  J{"t":"run",...}                  run a script: code, language, tools, result mode, caps (RunFrame)
//   host -> child  R<callId>\t<1|0><payload json>    call <callId>'s result (1) or tool error (0)
//   host -> child  J{"t":"reset"}                    between runs: a fresh interpreter, then ready again
//   child -> host  J{"t":"ready"|"output"|"truncated"|"done",...}   (ready: at start-up and after a reset)
//   child -> host  C<callId>\t<name json>\t<input json>   a tool call from the script
//   child -> host  W<results received>               idle: nothing to run until a call returns or a timer fires
//   child -> host  B                                 after W, a timer woke the script: it computes again
//   child -> host  X<callId>                         the script gave up on this call (its task was cancelled)
// Tool payloads pass through as text, so a large result is parsed once, in Python. Either end may write
// several frames at once (a turn's calls and the idle report that follows them; a turn's results): the
// reader splits lines wherever its chunks end (line-splitter.ts), so this changes no frame's meaning.
//
// Trust: the child's code runs beside the guest's, so the host decodes every child frame here, checking
// ids, names and shapes, and any fault ends the sandbox; the child applying the caps is only a courtesy.
// The intrinsics used below come from child-intrinsics.ts, captured when this module is first imported:
// in the child that is at start-up, before any guest code runs, so a guest that later replaces
// JSON.stringify or String.prototype methods (it shares the child's realm) changes nothing here.
import type { ErrorCode } from "../../protocol/errors.js";
import { indexOf, isSafeInteger, maxOf, parseJson, quote, sliceText, toNumber } from "./child-intrinsics.ts";

/**
 * Longest tool name the host looks up, and the child forwards. Real names are short (Anthropic's are at
 * most 128 characters; MCP tools become `server__tool`); a longer one is refused as not found.
 */
export const MAX_TOOL_NAME_CHARS = 256;

/**
 * Caps on the guest's error report, in characters: it must not carry more than the output cap would,
 * and a frame longer than the host accepts would end the sandbox.
 */
export const MAX_ERROR_REPORT_CHARS: ErrorReportChars = { type: 200, message: 16_384, traceback: 65_536, code: 100 };

/** Room for a frame's header around its payload (a call's id and quoted name, at most ~1.6 KB). */
export const FRAME_HEADER_CHARS = 4_096;

/** Most characters of output one `output` frame carries: the child splits longer output across frames. */
export const MAX_OUTPUT_FRAME_CHARS = 65_536;

/**
 * The longest line the host accepts from a child running with these caps: the largest frame each kind
 * can make, with JSON escaping at its worst (one character becomes six, `\u001f`). A longer line can only
 * come from a broken or hostile child. Before this bound covered output and error reports, a run with a
 * small `maxToolInputBytes` lost its sandbox to its own 100 KB print.
 */
export function maxChildFrameChars(caps: Pick<BridgeCaps, "maxToolInputBytes" | "errorReportChars">): number {
  const report = caps.errorReportChars;
  const reportChars = report.type + report.message + report.traceback + report.code;
  return FRAME_HEADER_CHARS + maxOf(caps.maxToolInputBytes, 6 * MAX_OUTPUT_FRAME_CHARS, 6 * reportChars);
}

export interface ErrorReportChars {
  type: number;
  message: number;
  traceback: number;
  code: number;
}

/** Every limit the child applies, resolved once by the host and sent with each run: the child keeps none. */
export interface BridgeCaps {
  /** Bytes per stream the child forwards; past them output is dropped and reported. */
  maxOutputBytes: number;
  /** The Python (WebAssembly) memory cap; 0 keeps the one the child was started with. */
  memoryBytes: number;
  /** Tool inputs above this are refused in the child; a longer frame ends the sandbox. */
  maxToolInputBytes: number;
  /** The child forwards one call past this (for the host to refuse and record) and refuses the rest. */
  maxToolCalls: number;
  maxToolNameChars: number;
  /** Nesting depth of tool arguments the guest's stubs refuse past (the host's MAX_TOOL_INPUT_DEPTH). */
  maxInputDepth: number;
  errorReportChars: ErrorReportChars;
}

/** The guest languages a run frame may name (`ScriptLanguage` in the protocol is this type). */
export type GuestLanguage = "python" | "javascript" | "typescript";

export interface RunFrame {
  code: string;
  /** Absent: python. JavaScript and TypeScript run in a fresh QuickJS per run (js-guest.ts). */
  language?: GuestLanguage;
  /** JSON of the tool list; guest.py reads it. */
  tools: string;
  resultMode: string;
  caps: BridgeCaps;
  /** Seeds Python's `random` before the script runs: sent with a container's first run in a sandbox. */
  seed?: number;
  /**
   * A container's first run in this sandbox: the guest's calls are numbered from 1 again, as in a new
   * process, so that a replay of the container in a new process numbers them alike (a durable journal keys
   * calls by these numbers). Later runs of the container continue the numbering.
   */
  restartCallIds?: boolean;
  /** Re-running a journaled execution: the child answers its calls from this (child-replay.ts). */
  replay?: ReplayFrame;
}

/**
 * Most characters a run frame's replay may take: the whole journal crosses the pipe at once and the child
 * holds it while the script runs. 1,000 calls with 1 KB results are ~1.1 MB; past this cap the rebuild is
 * refused (`replay_too_large`) before a sandbox is touched.
 */
export const MAX_REPLAY_FRAME_CHARS = 64 * 1024 * 1024;

/** The reply of a journaled call the script cancelled itself: nothing is delivered, the script cancels it again. */
export const REPLAY_CANCELLED = "X";

/** One journaled call, in the order the guest made it. */
export interface ReplayCall {
  tool: string;
  /** `canonical-json.ts` `inputFingerprint` of the input: the child compares it to the replayed call's. */
  argsSha256: string;
  /**
   * The recorded answer as the stub reads it (`1<json>`, `0<error json>`), `REPLAY_CANCELLED`, or null:
   * no outcome was recorded (pending at the pause), so the call goes to the host live.
   */
  reply: string | null;
  /** 1, 2, ...: the order the outcomes were recorded in; the child delivers them in it. 0 when `reply` is null. */
  completedOrder: number;
}

export interface ReplayFrame {
  calls: ReplayCall[];
  /**
   * The execution had finished: a call past the journal is a divergence. Otherwise (the paused one) calls
   * past the journal go to the host live.
   */
  finished: boolean;
}

/** Codes the child refuses a call with before it reaches the host: each is the host's own code. */
export const RefusalCode = {
  ReplayDiverged: "replay_diverged",
  InvalidToolInput: "invalid_tool_input",
  Cancelled: "cancelled",
  ToolCallLimit: "tool_call_limit",
  ToolNotFound: "tool_not_found",
  ToolInputTooLarge: "tool_input_too_large",
} as const satisfies Record<string, ErrorCode>;

/** Why the host rejected a child frame (in the sandbox's diagnostics; the sandbox is then killed). */
export const FrameFault = {
  UnknownKind: "unknown_frame_kind",
  BadCallId: "bad_call_id",
  BadToolName: "bad_tool_name",
  BadCount: "bad_count",
  BadJson: "bad_json",
  BadMessage: "bad_message",
  TooLong: "frame_too_long",
} as const;
export type FrameFault = (typeof FrameFault)[keyof typeof FrameFault];

export type OutputStream = "stdout" | "stderr";

// ---- host -> child ----

export function encodeRunFrame(frame: RunFrame): string {
  const { code, language, tools, resultMode, caps, seed, restartCallIds, replay } = frame;
  return `J${JSON.stringify({ t: "run", code, language, tools, resultMode, caps, seed, restartCallIds, replay })}`;
}

export const RESET_FRAME = 'J{"t":"reset"}';

/** `payloadJson` must be JSON text (JSON.stringify output: no raw newline). */
export function encodeResultFrame(callId: number, ok: boolean, payloadJson: string): string {
  return `R${callId}\t${ok ? "1" : "0"}${payloadJson}`;
}

/** A tool error's payload, as the guest's stub raises it (`type` picks ToolError or ToolTimeoutError). */
export function encodeToolError(type: string, code: string, message: string): string {
  return `{"type":${quote(type)},"code":${quote(code)},"message":${quote(message)}}`;
}

export interface HostFrameSink {
  run(frame: RunFrame): void;
  /** `payload` is the flag and the JSON as the guest's stub reads it: `1<json>` or `0<json>`. */
  result(callId: number, payload: string): void;
  reset(): void;
}

/** Read by the child. The host is trusted: anything else is ignored. */
export function decodeHostFrame(line: string, sink: HostFrameSink): void {
  if (line[0] === "R") {
    const tab = indexOf(line, "\t");
    sink.result(toNumber(sliceText(line, 1, tab)), sliceText(line, tab + 1));
    return;
  }
  if (line[0] === "J") {
    const message = parseJson(sliceText(line, 1)) as { t?: unknown } & RunFrame;
    if (message.t === "run") sink.run(message);
    else if (message.t === "reset") sink.reset();
  }
}

// ---- child -> host ----

/** How a sandbox compiled Pyodide's JavaScript: with the snapshot's code cache, without one, or as Pyodide's own import. */
export type CodeCacheUse = "accepted" | "rejected" | "none" | "unavailable";
const CODE_CACHE_USES: readonly string[] = ["accepted", "rejected", "none", "unavailable"];

/** Whether the interpreter just built got a new wasm memory or the previous one's, cleared (child-wasm-memory.ts). */
export type MemoryUse = "new" | "reused";

export function encodeReadyFrame(
  jspi: boolean,
  bootMs: number,
  node: string,
  codeCache: CodeCacheUse,
  memory: MemoryUse,
): string {
  return `J{"t":"ready","jspi":${jspi},"bootMs":${bootMs},"node":${quote(node)},"codeCache":"${codeCache}","memory":"${memory}"}`;
}

/** `inputJson` is the guest's text, passed through: the child has checked it holds no newline. */
export function encodeCallFrame(callId: number, name: string, inputJson: string): string {
  return `C${callId}\t${quote(name)}\t${inputJson}`;
}

export function encodeOutputFrame(stream: OutputStream, data: string): string {
  return `J{"t":"output","stream":"${stream}","data":${quote(data)}}`;
}

export function encodeTruncatedFrame(stream: OutputStream, dropped: number): string {
  return `J{"t":"truncated","stream":"${stream}","dropped":${dropped}}`;
}

export function encodeIdleFrame(resultsReceived: number): string {
  return `W${resultsReceived}`;
}

export const BUSY_FRAME = "B";

export function encodeCancelFrame(callId: number): string {
  return `X${callId}`;
}

/** `errorReportJson` is "null" or the checked report (child-error-report.ts). */
export function encodeDoneFrame(
  errorReportJson: string,
  dropped: { stdout: number; stderr: number },
  memoryLimitHit: boolean,
): string {
  return `J{"t":"done","error":${errorReportJson},"dropped":{"stdout":${dropped.stdout},"stderr":${dropped.stderr}},"memoryLimitHit":${memoryLimitHit}}`;
}

/** What the host does with each child frame, decoded and checked. One call per frame, no frame object. */
export interface ChildFrameSink {
  ready(bootMs: number, jspi: boolean, codeCache: CodeCacheUse, memory: MemoryUse): void;
  /** `inputJson` is untrusted text from guest code: the host validates it. */
  call(callId: number, name: string, inputJson: string): void;
  output(stream: OutputStream, text: string): void;
  truncated(stream: OutputStream, dropped: number): void;
  idle(resultsReceived: number): void;
  busy(): void;
  cancel(callId: number): void;
  /** `error` is the guest's report, unchecked (guest-error-report.ts checks it). */
  done(error: unknown, dropped: { stdout: number; stderr: number }, memoryLimitHit: boolean): void;
  fault(fault: FrameFault, line: string): void;
}

/** Decodes one child frame into `sink`; anything malformed goes to `sink.fault`. */
export function decodeChildFrame(line: string, sink: ChildFrameSink): void {
  const fault = checkedChildFrame(line, sink);
  if (fault !== null) sink.fault(fault, line);
}

/** Hands a well-formed frame to `sink`, or returns what is wrong with it. */
function checkedChildFrame(line: string, sink: ChildFrameSink): FrameFault | null {
  switch (line[0]) {
    case "C": {
      const firstTab = indexOf(line, "\t");
      const secondTab = firstTab < 0 ? -1 : indexOf(line, "\t", firstTab + 1);
      const callId = firstTab < 0 ? 0 : callIdOf(sliceText(line, 1, firstTab));
      if (callId === 0) return FrameFault.BadCallId;
      if (secondTab < 0) return FrameFault.BadToolName;
      let name: unknown;
      try {
        name = parseJson(sliceText(line, firstTab + 1, secondTab));
      } catch {}
      if (typeof name !== "string") return FrameFault.BadToolName;
      sink.call(callId, name, sliceText(line, secondTab + 1));
      return null;
    }
    case "W": {
      const received = line.length > 1 ? toNumber(sliceText(line, 1)) : Number.NaN;
      if (!isSafeInteger(received) || received < 0) return FrameFault.BadCount;
      sink.idle(received);
      return null;
    }
    case "B":
      if (line.length !== 1) return FrameFault.UnknownKind;
      sink.busy();
      return null;
    case "X": {
      const callId = callIdOf(sliceText(line, 1));
      if (callId === 0) return FrameFault.BadCallId;
      sink.cancel(callId);
      return null;
    }
    case "J":
      return checkedMessage(line, sink);
    default:
      return FrameFault.UnknownKind;
  }
}

/** A call id: a positive safe integer (the child counts from 1), else 0. */
function callIdOf(text: string): number {
  const callId = text.length > 0 ? toNumber(text) : 0;
  return isSafeInteger(callId) && callId > 0 ? callId : 0;
}

function checkedMessage(line: string, sink: ChildFrameSink): FrameFault | null {
  let parsed: unknown;
  try {
    parsed = parseJson(sliceText(line, 1));
  } catch {
    return FrameFault.BadJson;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return FrameFault.BadMessage;
  const message = parsed as Record<string, unknown>;
  const stream = message.stream === "stdout" || message.stream === "stderr" ? message.stream : null;
  switch (message.t) {
    case "ready":
      sink.ready(
        toNumber(message.bootMs),
        message.jspi === true,
        CODE_CACHE_USES.includes(message.codeCache as string) ? (message.codeCache as CodeCacheUse) : "unavailable",
        message.memory === "reused" ? "reused" : "new",
      );
      return null;
    case "output":
      if (!stream || typeof message.data !== "string") return FrameFault.BadMessage;
      sink.output(stream, message.data);
      return null;
    case "truncated":
      if (!stream) return FrameFault.BadMessage;
      sink.truncated(stream, count(message.dropped));
      return null;
    case "done": {
      const dropped = (message.dropped ?? {}) as { stdout?: unknown; stderr?: unknown };
      sink.done(
        message.error,
        { stdout: count(dropped.stdout), stderr: count(dropped.stderr) },
        message.memoryLimitHit === true,
      );
      return null;
    }
    default:
      return FrameFault.BadMessage;
  }
}

/** A count the child reported (bytes dropped): anything but a positive finite number is 0. */
export function count(value: unknown): number {
  const number = toNumber(value ?? 0);
  return Number.isFinite(number) && number > 0 ? number : 0;
}
