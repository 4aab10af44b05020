import { CODE_EXECUTION_TOOL_NAME } from "./code-execution-tool.js";

/** Tool names as Anthropic allows them are shown as-is; anything else a model made up is quoted and cut. */
const PLAIN_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const MAX_SHOWN_NAME = 128;

function shownName(name: string): string {
  if (PLAIN_NAME.test(name)) return name;
  return JSON.stringify(name.length > MAX_SHOWN_NAME ? `${name.slice(0, MAX_SHOWN_NAME)}…` : name);
}

/**
 * Why a direct call by the model is refused (the tool_result text it gets back, `is_error`): the tool is
 * code-only (its `allowed_callers` has no `direct`), so its raw results must not enter the model's context.
 */
export function codeOnlyToolMessage(name: string): string {
  return `${shownName(name)} can only be called from ${CODE_EXECUTION_TOOL_NAME}: call it from Python in a ${CODE_EXECUTION_TOOL_NAME} script, not as a tool`;
}

/** Why a direct call of a name no tool has is refused; `scope` is what defines the tools ("request", "run"). */
export function unknownToolMessage(name: string, scope: "request" | "run"): string {
  return `no tool named ${shownName(name)} in this ${scope}`;
}
