// Turning untrusted text (tool names and descriptions, property names, enum values) into TypeScript source that
// always parses: the declarations are prompt text, and one stray `*/` in a description must not end a comment.

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Words a declared name must not be (ES reserved words, TypeScript's type keywords and the strict-mode ones):
 * property names may be anything, but `type` aliases need a plain identifier.
 */
const RESERVED: ReadonlySet<string> = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "implements interface let package private protected public static yield await any unknown never object string " +
    "number boolean bigint symbol undefined"
  ).split(" "),
);

/** True for an ASCII identifier, usable as a property name or after `.` without quotes. */
export function isJsIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

/** True for a name that can be declared (`type X = …`): an identifier that is no reserved or type keyword. */
export function isDeclarableName(name: string): boolean {
  return IDENTIFIER.test(name) && !RESERVED.has(name);
}

/**
 * A string literal. JSON's escapes are valid TypeScript, and U+2028/U+2029 have been legal inside string
 * literals since ES2019; lone surrogates come out as `\uXXXX` escapes.
 */
export function tsString(value: string): string {
  return JSON.stringify(value);
}

/** A property name in a type literal: bare when it is an identifier, else quoted. */
export function propertyKey(name: string): string {
  return isJsIdentifier(name) ? name : tsString(name);
}

/** Text safe inside a block comment: no `*∕` that would close it, no control characters, no lone surrogates. */
function blockCommentText(value: string): string {
  return value
    .replace(/\r\n?/g, "\n")
    .replace(/\*\//g, "*\\/")
    .replace(/\p{Cs}/gu, "\uFFFD")
    .replace(/[\p{Cc}]/gu, (char) => (char === "\n" ? char : " "));
}

/** One line for an inline `/* … *∕` comment. */
export function inlineComment(value: string): string {
  const text = blockCommentText(value)
    .replace(/[\s\u2028\u2029]+/gu, " ")
    .trim();
  return text === "" ? "" : `/* ${text} */`;
}

/** A JSDoc block for `lines` (which may hold newlines), or "" when they are all empty. */
export function jsDoc(lines: readonly string[]): string {
  const text = blockCommentText(lines.join("\n"))
    .split(/[\n\u2028\u2029]/u)
    .map((line) => line.trimEnd());
  while (text.length > 0 && text[0] === "") text.shift();
  while (text.length > 0 && text[text.length - 1] === "") text.pop();
  if (text.length === 0) return "";
  if (text.length === 1) return `/** ${text[0]} */`;
  return ["/**", ...text.map((line) => (line === "" ? " *" : ` * ${line}`)), " */"].join("\n");
}

/** Indents every non-empty line; blank lines stay empty so the output has no trailing whitespace. */
export function indentLines(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? "" : prefix + line))
    .join("\n");
}
