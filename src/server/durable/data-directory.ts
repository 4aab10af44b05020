import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/**
 * Where `ptc serve` keeps its data (the default SQLite store), without creating it: `PTC_DATA_DIR`, else
 * `$XDG_DATA_HOME/ptc`, else `~/.local/share/ptc` (the XDG default; `~/Library/Application Support/ptc` on
 * macOS, `%LOCALAPPDATA%\ptc\Data` on Windows). Unlike the cache, losing it loses paused scripts.
 */
export function dataDirectoryPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.PTC_DATA_DIR) return resolve(env.PTC_DATA_DIR);
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "ptc");
  if (process.platform === "darwin") return join(homedir(), "Library", "Application Support", "ptc");
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "ptc", "Data");
  return join(homedir(), ".local", "share", "ptc");
}

/** The default store: a SQLite file in the data directory. */
export function defaultStorePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(dataDirectoryPath(env), "store.db");
}
