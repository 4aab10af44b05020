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
