import { createHash } from "node:crypto";

/**
 * How MCP tools are named in ptc: `{server}__{tool}`, e.g. `filesystem__read_text_file`. The same
 * name is the Python function, so both parts are reduced to `[A-Za-z0-9_]`.
 *
 * - Server part: a config key that is already a clean identifier (letters and digits, single
 *   underscores between them, e.g. `filesystem`, `my_fs`) is used as is. Anything else is
 *   squashed (`brave-search` → `brave_search`) and gets a 4-hex hash of the original key
 *   (`brave_search_1a2b`): stable across runs, and two keys that squash alike (`a-b`, `a.b`) can
 *   neither collide with each other nor with a clean key. It never contains `__` nor ends in `_`, so
 *   the first `__` of a tool name always separates server from tool.
 * - Tool part: invalid characters become `_` (`get-sum` → `get_sum`); if that makes two of one
 *   server's tools alike, or the name would pass 128 characters, the changed ones get a hash suffix.
 */
export const MCP_NAME_SEPARATOR = "__";

const MAX_TOOL_NAME = 128;
const MAX_PREFIX = 48;
const CLEAN_PREFIX = /^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/;

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 4);
}

/** The server part of every tool name of the server configured under `server`. */
export function mcpServerPrefix(server: string): string {
  if (CLEAN_PREFIX.test(server) && server.length <= MAX_PREFIX) return server;
  let base = server
    .replace(/[^A-Za-z0-9]+/g, "_")
    .slice(0, MAX_PREFIX)
    .replace(/^_+|_+$/g, "");
  if (!/^[A-Za-z]/.test(base)) base = base === "" ? "mcp" : `mcp_${base}`;
  return `${base}_${shortHash(server)}`;
}

/**
 * Host names for one server's tools, in the server's order: a map from the name ptc (and Python)
 * uses to the name the server knows.
 */
export function nameMcpTools(prefix: string, tools: readonly string[]): Map<string, string> {
  const room = MAX_TOOL_NAME - prefix.length - MCP_NAME_SEPARATOR.length;
  const bases = tools.map((tool) => tool.replace(/[^A-Za-z0-9_]/g, "_") || "tool");
  const counts = new Map<string, number>();
  for (const base of bases) counts.set(base, (counts.get(base) ?? 0) + 1);
  const names = new Map<string, string>();
  tools.forEach((tool, index) => {
    let part = bases[index] as string;
    const changed = part !== tool;
    if ((changed && (counts.get(part) ?? 0) > 1) || part.length > room) {
      part = `${part.slice(0, room - 5)}_${shortHash(tool)}`;
    }
    let name = `${prefix}${MCP_NAME_SEPARATOR}${part}`;
    // Only a server listing one name twice (or a 16-bit hash clash) gets here; keep both reachable.
    for (let n = 2; names.has(name); n++) name = `${prefix}${MCP_NAME_SEPARATOR}${part.slice(0, room - 4)}_${n}`;
    names.set(name, tool);
  });
  return names;
}
