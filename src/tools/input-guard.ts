/**
 * Checks on a tool input that JSON Schema cannot express, applied before the schema. The input comes
 * from a script (or a model) and the handler receives it as a JS value, so anything JSON.parse turns
 * into something other than what was sent is refused rather than passed on silently:
 * - integers outside ±(2**53 - 1): JS numbers round them (2**64 would arrive as 18446744073709552000);
 * - non-finite numbers (`1e400` parses to Infinity; NaN and Infinity are not JSON at all);
 * - nesting deeper than `MAX_TOOL_INPUT_DEPTH`: records and event streams serialise the input again,
 *   and a 100,000-deep value would overflow the stack there. The guest's stubs refuse the same depth
 *   before encoding (their encoder overflows too): the host sends it in each run frame (sandbox-process.ts).
 */
export const MAX_TOOL_INPUT_DEPTH = 128;

/** Digits beyond this many can only be an unsafe integer (2**53 has 16). */
const SAFE_INTEGER_DIGITS = 15;

type Path = Array<string | number>;

function formatPath(path: Path): string {
  if (path.length === 0) return "arguments";
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`;
  }
  return out;
}

/**
 * Integer literals of `json` (already known to be valid JSON) that are not safe integers, by parsed
 * value. A float such as `1e20` or `6.02e23` is exact as a double and is not listed.
 */
function unsafeIntegerLiterals(json: string): Map<number, string> {
  const found = new Map<number, string>();
  const n = json.length;
  let i = 0;
  while (i < n) {
    const c = json.charCodeAt(i);
    if (c === 34) {
      // A string: skip to its closing quote.
      i++;
      while (i < n) {
        const d = json.charCodeAt(i);
        if (d === 92) i += 2;
        else {
          i++;
          if (d === 34) break;
        }
      }
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      const start = i++;
      let integral = true;
      while (i < n) {
        const d = json.charCodeAt(i);
        if (d >= 48 && d <= 57) i++;
        else if (d === 46 || d === 101 || d === 69 || d === 43 || d === 45) {
          integral = false;
          i++;
        } else break;
      }
      if (integral && i - start > SAFE_INTEGER_DIGITS) {
        const literal = json.slice(start, i);
        const value = Number(literal);
        if (!Number.isSafeInteger(value) && !found.has(value)) found.set(value, literal);
      }
    } else i++;
  }
  return found;
}

export interface InputProblem {
  /** `path: reason`. */
  message: string;
  /** Nested past the limit: the input must not be serialised again (records, events). */
  tooDeep: boolean;
}

/** JSON shorter than this cannot nest past the limit: each level opens and closes a bracket. */
const MIN_TOO_DEEP_JSON_CHARS = 2 * (MAX_TOOL_INPUT_DEPTH + 1);
/**
 * The only literals JSON.parse turns into a non-finite number or an integer outside ±(2**53 - 1): at
 * least 16 digits in a row, or an exponent (which in JSON always follows a digit). Text without either
 * (in strings too: this may find what is not a number, never miss one) has nothing the walk could find.
 */
const SUSPECT_NUMBER = /\d{16}|\d[eE]/;

interface Walk {
  path: Path;
  suspects: Array<{ value: number; path: string }>;
  tooDeep: boolean;
}

/** One value of the walk; module-level (not a closure per input) and bounded by the depth limit. */
function walk(state: Walk, value: unknown, depth: number): string | undefined {
  const { path } = state;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return `${formatPath(path)}: number out of range (${value} is not JSON)`;
    if (!Number.isSafeInteger(value) && Number.isInteger(value)) state.suspects.push({ value, path: formatPath(path) });
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  // Bounded recursion: the walk stops at the limit, so it cannot overflow the stack itself.
  if (depth >= MAX_TOOL_INPUT_DEPTH) {
    state.tooDeep = true;
    return `${formatPath(path.slice(0, 8))}…: nested deeper than ${MAX_TOOL_INPUT_DEPTH} levels`;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      path.push(index);
      const problem = walk(state, value[index], depth + 1);
      path.pop();
      if (problem) return problem;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    path.push(key);
    const problem = walk(state, (value as Record<string, unknown>)[key], depth + 1);
    path.pop();
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Returns why `input` cannot be passed to a handler as sent, or undefined. `json` is the text it was
 * parsed from, when known: only the text tells an integer literal from a float literal, so without it
 * (direct calls, whose input an SDK already parsed) unsafe integers are not detected. With it, a short
 * text without a suspect number is passed without walking the value (most calls from code).
 */
export function inspectToolInput(input: unknown, json?: string): InputProblem | undefined {
  if (json !== undefined && json.length < MIN_TOO_DEEP_JSON_CHARS && !SUSPECT_NUMBER.test(json)) return undefined;
  const state: Walk = { path: [], suspects: [], tooDeep: false };
  const problem = walk(state, input, 0);
  if (problem !== undefined) return { message: problem, tooDeep: state.tooDeep };
  const { suspects } = state;
  if (suspects.length === 0 || json === undefined) return undefined;
  const literals = unsafeIntegerLiterals(json);
  for (const suspect of suspects) {
    const literal = literals.get(suspect.value);
    if (literal !== undefined) {
      const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
      const message = `${suspect.path}: integer ${shown} is outside ±(2**53 - 1) and would be rounded; pass it as a string`;
      return { message, tooDeep: false };
    }
  }
  return undefined;
}
