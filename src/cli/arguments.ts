/** A small argv parser: `--flag`, `--key value`, `--key=value`, positionals. Unknown flags are errors. */
export interface ParsedArguments {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArguments(
  argv: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
): ParsedArguments {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (!argument.startsWith("--") || argument === "--") {
      positionals.push(argument);
      continue;
    }
    const [name, inline] = argument.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (booleans.includes(name)) flags.set(name, true);
    else if (valued.includes(name)) {
      const value = inline ?? argv[++index];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    } else throw new Error(`unknown option --${name}`);
  }
  return { positionals, flags };
}
