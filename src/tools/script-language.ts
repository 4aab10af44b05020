import { ErrorCode, PtcError } from "../protocol/errors.js";
import { type ResultMode, SCRIPT_LANGUAGES, type ScriptLanguage } from "../protocol/execution.js";
import type { ToolRegistry } from "./tool-registry.js";

export { SCRIPT_LANGUAGES };

export const DEFAULT_SCRIPT_LANGUAGE: ScriptLanguage = "python";

export function isScriptLanguage(value: unknown): value is ScriptLanguage {
  return typeof value === "string" && (SCRIPT_LANGUAGES as readonly string[]).includes(value);
}

/** `value` as a language; anything else is PtcError `invalid_request` naming `field` and the accepted values. */
export function parseScriptLanguage(value: unknown, field = "language"): ScriptLanguage {
  if (isScriptLanguage(value)) return value;
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 64)) : typeof value;
  throw new PtcError(ErrorCode.InvalidRequest, `${field} must be one of ${SCRIPT_LANGUAGES.join(", ")}; got ${shown}`, {
    field,
  });
}

/** The language a file name says (`.py`, `.js`/`.mjs`/`.cjs`, `.ts`/`.mts`/`.cts`), or undefined. */
export function languageOfFile(path: string): ScriptLanguage | undefined {
  const extension = /\.([A-Za-z]+)$/.exec(path)?.[1]?.toLowerCase();
  if (extension === "py") return "python";
  if (extension === "js" || extension === "mjs" || extension === "cjs") return "javascript";
  if (extension === "ts" || extension === "mts" || extension === "cts") return "typescript";
  return undefined;
}

/**
 * What a model needs in its prompt to call the code tools in `language`: Python stubs, or TypeScript
 * declarations (which also describe JavaScript: the same calls, without the annotations).
 */
export function stubsFor(registry: ToolRegistry, language: ScriptLanguage, resultMode: ResultMode = "json"): string {
  return language === "python" ? registry.pythonStubs({ resultMode }) : registry.typescriptDeclarations({ resultMode });
}
