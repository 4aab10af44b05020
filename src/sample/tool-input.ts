/**
 * Input checks for the sample tool handlers. The engine validates against the JSON schema too,
 * but handlers can be called directly, so each one fails with a clear message on bad input.
 */
export type ToolInput = Record<string, unknown>;

export function checkInput(tool: string, input: unknown, allowed: readonly string[]): ToolInput {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new Error(`${tool}: input must be an object of named arguments`);
  }
  const record = input as ToolInput;
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    const expected = allowed.length > 0 ? allowed.join(", ") : "none";
    throw new Error(`${tool}: unknown argument(s) ${unknown.join(", ")} (expected: ${expected})`);
  }
  return record;
}

export function requireString(tool: string, input: ToolInput, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || value.trim() === "") {
    throw new Error(`${tool}: '${key}' is required and must be a non-empty string`);
  }
  return value;
}

export function optionalInteger(
  tool: string,
  input: ToolInput,
  key: string,
  range: { min: number; max: number; fallback: number },
): number {
  const value = input[key];
  if (value === undefined || value === null) return range.fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new Error(
      `${tool}: '${key}' must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function optionalChoice<T extends string>(
  tool: string,
  input: ToolInput,
  key: string,
  choices: readonly T[],
): T | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  const match = choices.find((choice) => choice === value);
  if (match === undefined) {
    throw new Error(`${tool}: '${key}' must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return match;
}
