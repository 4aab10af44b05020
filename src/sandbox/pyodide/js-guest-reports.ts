// Error reports of a JavaScript run in the sandbox child, as child-error-report.ts reads them: the child's
// own, QuickJS's out of memory as the memory limit, and TypeScript that cannot be stripped. Part of the
// child: erasable syntax, node: builtins and sibling modules only.
import * as nodeModule from "node:module";
import { indexOf, quote } from "./child-intrinsics.ts";
import { memoryLimitHit } from "./child-memory-cap.ts";
import { UNREPORTABLE_MESSAGE } from "./js-guest-globals.ts";

// Captured when the child loads, before any guest code: Node >= 22.13/23.2 has it (the engine refuses
// TypeScript before a run when the sandbox Node lacks it: sandbox-runtime.ts `typescript`).
const stripTypes = (nodeModule as { stripTypeScriptTypes?: (code: string, options: object) => string })
  .stripTypeScriptTypes;

/** An error report as child-error-report.ts reads it. */
export function errorJson(type: string, message: string, line?: number): string {
  return `{"type":${quote(type)},"message":${quote(message)},"traceback":""${line ? `,"line":${line}` : ""}}`;
}

/**
 * QuickJS's `out of memory` as Python's MemoryError, which the host reports as `memory_limit`, only when
 * the child refused a wasm memory growth in this run (child-memory-cap.ts): a script can throw an
 * `InternalError("out of memory")` of its own, and that stays its own error.
 */
export function memoryError(report: string): string {
  if (report === "" || !memoryLimitHit()) return report;
  // Out of memory, QuickJS throws null where it cannot allocate its error, and the prelude's report can fail.
  const outOfMemory =
    indexOf(report, '"message":"out of memory"') >= 0 ||
    indexOf(report, '"type":"Error","message":"null"') >= 0 ||
    indexOf(report, `"message":"${UNREPORTABLE_MESSAGE}"`) >= 0;
  if (!outOfMemory) return report;
  return errorJson("MemoryError", "the script reached its memory limit");
}

/** TypeScript as JavaScript: types replaced by spaces (positions kept, so lines stay the guest's). */
export function stripped(wrapped: string): { code: string } | { error: string } {
  if (!stripTypes) {
    return { error: errorJson("TypeScriptUnavailable", "this sandbox's Node cannot strip TypeScript types") };
  }
  try {
    return { code: stripTypes(wrapped, { mode: "strip" }) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Node puts the position in front of the stack only: ":<line>\n<source line>\n<carets>\n\n<Name>: ...".
    const stack = error instanceof Error ? String(error.stack) : "";
    const at = /^:(\d+)\n/.exec(stack);
    return { error: errorJson("SyntaxError", message, at ? Number(at[1]) : undefined) };
  }
}
