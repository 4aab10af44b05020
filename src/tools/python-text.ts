// Turning untrusted text (tool descriptions, property names, enum values) into Python source that always compiles.

/** A Python string literal. JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`, lone surrogates) are all valid Python. */
export function pyString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Text for the inside of a `"""` docstring. Backslashes are doubled so `\n` or `\d` in a description stays
 * literal, quote runs that could close the string are escaped, and control characters (Python rejects NUL in
 * source; a bare `\r` would end the line) become escapes.
 */
export function docstringText(value: string): string {
  return value
    .replace(/\r\n?/g, "\n")
    .replace(/\\/g, "\\\\")
    .replace(/"{3,}/g, (run) => '\\"'.repeat(run.length))
    .replace(/[\p{Cc}\p{Cs}]/gu, (char) => (char === "\n" || char === "\t" ? char : unicodeEscape(char)));
}

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Text for a `#` comment: one line, no characters Python's tokenizer treats as line ends. */
export function commentText(value: string): string {
  return value
    .replace(/[\s\p{Cc}]+/gu, " ")
    .replace(/\p{Cs}/gu, "\uFFFD")
    .trim();
}

/** Indents every non-empty line; blank lines stay empty so the output has no trailing whitespace. */
export function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => (line.trim() === "" ? "" : prefix + line))
    .join("\n");
}

/** `query_database` / `get-weather` / `getWeather` → `QueryDatabase` / `GetWeather` / `GetWeather`. */
export function pascalCase(value: string): string {
  const words = value.split(/[^A-Za-z0-9]+/).filter((word) => word !== "");
  const joined = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("");
  if (joined === "") return "Field";
  return /^[0-9]/.test(joined) ? `_${joined}` : joined;
}
