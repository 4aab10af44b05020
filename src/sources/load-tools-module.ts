import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ToolDefinition } from "../protocol/tool.js";

/**
 * Loads tool definitions from a user's module: its default export or a `tools` export, either an
 * array of definitions or a function returning one. TypeScript modules go through tsx.
 */
export async function loadToolsModule(path: string): Promise<ToolDefinition[]> {
  const url = pathToFileURL(resolve(path)).href;
  let loaded: Record<string, unknown>;
  if (/\.(c|m)?tsx?$/.test(path)) {
    const { tsImport } = await import("tsx/esm/api");
    loaded = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  } else {
    loaded = (await import(url)) as Record<string, unknown>;
  }
  let exported = loaded.tools ?? loaded.default;
  if (typeof exported === "function") exported = await (exported as () => unknown)();
  if (!Array.isArray(exported)) {
    throw new Error(`${path} must export \`tools\` (or a default export): an array of tool definitions`);
  }
  return exported as ToolDefinition[];
}
