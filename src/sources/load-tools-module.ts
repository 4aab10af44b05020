import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ToolDefinition } from "../protocol/tool.js";
import { loadTsImport } from "./tsx-import.js";

export interface LoadToolsModuleOptions {
  /** How errors name the module, e.g. the path as the user wrote it; default `path`. */
  label?: string;
}

const WHAT_TO_EXPORT =
  "export `tools` (or a default export): an array of tool definitions, or a function returning one";

/**
 * Loads tool definitions from a user's module: its default export or a `tools` export, either an
 * array of definitions or a function returning one. TypeScript modules go through tsx. Every failure
 * is one line naming the module: not found, a syntax error (with its line), an error thrown at import,
 * nothing to load.
 */
export async function loadToolsModule(path: string, options: LoadToolsModuleOptions = {}): Promise<ToolDefinition[]> {
  const absolute = resolve(path);
  const label = options.label ?? path;
  const name = `tools module ${label}`;
  const isFile = await stat(absolute).then(
    (found) => found.isFile(),
    () => false,
  );
  if (!isFile) throw new Error(`${name} not found${label === absolute ? "" : ` (${absolute})`}`);
  const url = pathToFileURL(absolute).href;
  // tsx is an optional peer dependency, loaded for a TypeScript module only (one line when it is missing).
  const tsImport = /\.(c|m)?tsx?$/.test(absolute) ? await loadTsImport() : undefined;
  let loaded: Record<string, unknown>;
  try {
    if (tsImport) {
      loaded = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } else {
      loaded = (await import(url)) as Record<string, unknown>;
    }
  } catch (error) {
    throw new Error(`${name} ${await describeLoadFailure(error, absolute)}`);
  }
  // A TS module tsx compiled to CommonJS: `default` is its whole `module.exports`, not a default export.
  const compiled = loaded.default as { __esModule?: unknown; default?: unknown } | undefined;
  const defaultExport = compiled?.__esModule === true ? compiled.default : loaded.default;
  const which = loaded.tools !== undefined ? "`tools` export" : "default export";
  let exported = loaded.tools ?? defaultExport;
  if (exported === undefined) {
    const names = Object.keys(loaded).filter((key) => key !== "default" && key !== "__esModule");
    const has = names.length === 0 ? "exports nothing" : `exports only ${names.join(", ")}`;
    throw new Error(`${name} has no \`tools\` or default export (it ${has}): ${WHAT_TO_EXPORT}`);
  }
  if (typeof exported === "function") {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      throw new Error(`${name}: its ${which}, a function, threw: ${errorLine(error)}`);
    }
  }
  if (!Array.isArray(exported)) {
    const kind = exported === null ? "null" : typeof exported;
    throw new Error(
      `${name}: its ${which} is ${kind === "object" ? "an object" : kind}, not an array: ${WHAT_TO_EXPORT}`,
    );
  }
  return exported as ToolDefinition[];
}

/** The rest of the one-line message for an import that failed: where a syntax error is, or what was thrown. */
async function describeLoadFailure(error: unknown, absolute: string): Promise<string> {
  const where = (file: string, line: string, column?: string): string =>
    file === absolute
      ? `line ${line}${column ? `, column ${column}` : ""}`
      : `${file}:${line}${column ? `:${column}` : ""}`;
  const message = error instanceof Error ? error.message : String(error);
  // tsx (esbuild): "Transform failed with 1 error:\n/path/file.ts:3:9: ERROR: Expected ...".
  const esbuild = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(message);
  if (esbuild && message.startsWith("Transform failed")) {
    const [, file = "", line = "", column = "", text = ""] = esbuild;
    return `has a syntax error at ${where(file, line, column)}: ${text}`;
  }
  // A parse error comes from Node's loader; a SyntaxError the module's code throws (JSON.parse) from that code.
  const firstFrame = /\n\s+at (.*)/.exec(error instanceof Error ? (error.stack ?? "") : "")?.[1] ?? "";
  if (error instanceof SyntaxError && (firstFrame === "" || firstFrame.includes("node:internal"))) {
    // Node 20 gives an ES module's syntax error no location; its own parser, run on the file, does.
    const text = firstLine(error.message);
    const checked = /\.(c|m)?js$/.test(absolute) ? await checkSyntax(absolute) : undefined;
    if (checked === "parses") return `could not be loaded: a module it imports has a syntax error: ${text}`;
    if (checked) return `has a syntax error at ${where(checked.file, checked.line)}: ${text}`;
    return `has a syntax error (or a module it imports does): ${text}`;
  }
  return `failed while loading: ${errorLine(error)}`;
}

/** `node --check FILE`: where its syntax error is, "parses" when it has none, undefined when that is unknown. */
function checkSyntax(file: string): Promise<{ file: string; line: string } | "parses" | undefined> {
  return new Promise((done) => {
    execFile(process.execPath, ["--check", file], { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (error === null) return done("parses");
      // It prints `FILE:LINE`, the line, a caret, then the error.
      const match = /^(.+):(\d+)$/m.exec(stderr);
      done(match?.[1] && match[2] ? { file: match[1], line: match[2] } : undefined);
    });
  });
}

/** An error as one line: its first line, with the type when it is not a plain Error. */
function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return firstLine(String(error));
  const first = firstLine(error.message);
  return error.name === "Error" || error.name === "" ? first : `${error.name}: ${first}`;
}

function firstLine(text: string): string {
  return text.split("\n").find((line) => line.trim() !== "") ?? "";
}
