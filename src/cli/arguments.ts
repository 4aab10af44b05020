import type { ResultMode, ScriptLanguage } from "../protocol/execution.js";
import { isScriptLanguage, languageOfFile, SCRIPT_LANGUAGES } from "../tools/script-language.js";

/**
 * A small argv parser: `--flag`, `--key value`, `--key=value`, positionals. Unknown flags are errors.
 * Repeatable flags (`--mcp A --mcp B`) collect every value in `lists`; for them `flags` holds the last one.
 */
export interface ParsedArguments {
  positionals: string[];
  flags: Map<string, string | true>;
  /** Every value of each repeatable flag, in order; a flag never given is absent. */
  lists: Map<string, string[]>;
}

export interface ArgumentOptions {
  /** Valued flags that may be given more than once. */
  repeatable?: readonly string[];
  /**
   * Flags whose value may be left out (`--http` or `--http 8080`): the next argument is taken only when it
   * does not start with `-`, so these suit commands without positionals.
   */
  optionalValue?: readonly string[];
}

export function parseArguments(
  argv: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
  options: ArgumentOptions = {},
): ParsedArguments {
  const repeatable = options.repeatable ?? [];
  const optionalValue = options.optionalValue ?? [];
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (!argument.startsWith("--") || argument === "--") {
      positionals.push(argument);
      continue;
    }
    const [name, inline] = argument.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (booleans.includes(name)) flags.set(name, true);
    else if (optionalValue.includes(name)) {
      const next = argv[index + 1];
      if (inline !== undefined) flags.set(name, inline);
      else if (next !== undefined && !next.startsWith("-")) flags.set(name, argv[++index] as string);
      else flags.set(name, true);
    } else if (valued.includes(name) || repeatable.includes(name)) {
      const value = inline ?? argv[++index];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
      if (repeatable.includes(name)) lists.set(name, [...(lists.get(name) ?? []), value]);
    } else throw new Error(`unknown option --${name}`);
  }
  return { positionals, flags, lists };
}

/** `--result-mode json|text`: json when the flag is absent; any other value is an error, not a silent json. */
export function resultModeFlag(parsed: ParsedArguments): ResultMode {
  const value = parsed.flags.get("result-mode");
  if (value === undefined || value === "json") return "json";
  if (value === "text") return "text";
  throw new Error(`--result-mode must be json or text, got ${JSON.stringify(value)}`);
}

/**
 * `--language python|javascript|typescript`, else the language `file`'s extension says (`.py`, `.js`, `.ts`,
 * ...), else Python: stdin (`-`) and other names are Python unless the flag says otherwise.
 */
export function languageFlag(parsed: ParsedArguments, file?: string): ScriptLanguage {
  const value = parsed.flags.get("language");
  if (value === undefined) return (file === undefined ? undefined : languageOfFile(file)) ?? "python";
  if (isScriptLanguage(value)) return value;
  throw new Error(`--language must be one of ${SCRIPT_LANGUAGES.join(", ")}, got ${JSON.stringify(value)}`);
}

/** A flag that takes a whole number of milliseconds above zero, e.g. `--timeout 5000`; undefined when absent. */
export function millisecondsFlag(parsed: ParsedArguments, name: string): number | undefined {
  const value = parsed.flags.get(name);
  if (value === undefined) return undefined;
  const milliseconds = Number(value);
  if (typeof value !== "string" || !Number.isInteger(milliseconds) || milliseconds <= 0) {
    throw new Error(`--${name} needs a whole number of milliseconds above 0, got ${JSON.stringify(value)}`);
  }
  return milliseconds;
}

/** `ptc run`, `ptc serve` and `ptc mcp`: run sandboxes on a weaker Node than `ptc setup` installs, with a warning. */
export const ALLOW_DEGRADED_ISOLATION = "allow-degraded-isolation";

export const ALLOW_DEGRADED_ISOLATION_USAGE = `  --allow-degraded-isolation
                       run sandboxes on this host's Node when \`npx ptc setup\` has not installed the sandbox
                       runtime (its permission model does not cover the network; no asyncio.run)`;
