import type { ToolDefinition } from "../protocol/tool.js";

/** The code of the warning `ToolRegistry.from` emits for tools with a handler that code cannot call. */
export const TOOLS_NOT_CALLABLE_FROM_CODE = "PTC_TOOLS_NOT_CALLABLE_FROM_CODE";

/** At most this many names are listed; the rest are counted. */
const MAX_LISTED = 20;

/**
 * Definitions already warned about, or declared meant for direct calls: an engine builds a registry per
 * tool list it is given, and the same definitions must not warn on every execution.
 */
const settled = new WeakSet<object>();

/** Stops later registries from warning about these definitions (their direct-only default is intended). */
export function acknowledgeDirectOnly(definitions: Iterable<ToolDefinition>): void {
  for (const definition of definitions) settled.add(definition);
}

/**
 * A Node process warning (`process.emitWarning`, type `PtcWarning`, code `PTC_TOOLS_NOT_CALLABLE_FROM_CODE`)
 * naming tools that have a handler but are not callable from code: `allowedCallers` defaults to
 * `["direct"]`, so a tool defined without it is missing from scripts, which is rarely what was meant.
 * Printed on stderr by default; `process.on("warning")` sees it; `--disable-warning=PTC_TOOLS_NOT_CALLABLE_FROM_CODE`
 * (or `--no-warnings`) silences it. Each definition object is reported once per process.
 */
export function warnNotCallableFromCode(definitions: readonly ToolDefinition[]): void {
  const fresh = definitions.filter((definition) => !settled.has(definition));
  if (fresh.length === 0) return;
  acknowledgeDirectOnly(fresh);
  const names = fresh.slice(0, MAX_LISTED).map((definition) => definition.name);
  const more = fresh.length > MAX_LISTED ? ` and ${fresh.length - MAX_LISTED} more` : "";
  const one = fresh.length === 1;
  const [they, their] = one ? ["it", "its"] : ["them", "their"];
  process.emitWarning(
    `${fresh.length} ${one ? "tool has a handler but is" : "tools have a handler but are"} not callable from code: ` +
      `${names.join(", ")}${more}. allowedCallers defaults to ["direct"], so a script calling ${they} gets ` +
      `ToolError tool_not_allowed. Add "code_execution" to ${their} allowedCallers to call ${they} from scripts; ` +
      `if ${one ? "it is" : "they are"} meant for direct calls only, ignore this warning.`,
    { type: "PtcWarning", code: TOOLS_NOT_CALLABLE_FROM_CODE },
  );
}
