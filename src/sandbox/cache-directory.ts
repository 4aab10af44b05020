import { mkdirSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/** What the cache's location depends on; each defaults to this process's. */
export interface CacheLocationInputs {
  env?: Readonly<Record<string, string | undefined>>;
  platform?: NodeJS.Platform;
  home?: string;
}

/**
 * Where ptc's cache (sandbox runtime, memory snapshots) lives, without creating it: `PTC_CACHE_DIR`,
 * else `$XDG_CACHE_HOME/ptc`, else the platform's user cache (`~/.cache/ptc` on Linux,
 * `~/Library/Caches/ptc` on macOS, `%LOCALAPPDATA%\ptc\Cache` on Windows). Outside `node_modules`,
 * so `npm ci` and `rm -rf node_modules` leave the runtime `ptc setup` installed in place.
 */
export function cacheDirectoryPath(inputs: CacheLocationInputs = {}): string {
  const env = inputs.env ?? process.env;
  const explicit = env.PTC_CACHE_DIR;
  // Absolute: the path becomes bubblewrap binds and permission-model flags of every sandbox.
  if (explicit) return resolve(explicit);
  // The XDG base directory spec: a relative value is invalid and ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "ptc");
  const platform = inputs.platform ?? process.platform;
  const home = inputs.home ?? homedir();
  if (platform === "darwin") return join(home, "Library", "Caches", "ptc");
  if (platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "ptc", "Cache");
  return join(home, ".cache", "ptc");
}

/**
 * ptc's cache, created (mode 0700) if missing: a folder only this user (or root) can write, since
 * whoever can write there decides what every sandbox runs. One writable by others is refused.
 */
export function cacheDirectory(): string {
  const path = cacheDirectoryPath();
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return checkCacheDirectory(path);
}

/** The folder's real path, once it is a directory owned by this user or root and writable by nobody else. */
export function checkCacheDirectory(path: string): string {
  const real = realpathSync(path);
  const stats = statSync(real);
  if (!stats.isDirectory()) throw new Error(`ptc's cache ${real} is not a directory (set PTC_CACHE_DIR)`);
  const uid = process.getuid?.();
  if (uid === undefined) return real;
  if (stats.uid !== uid && stats.uid !== 0) {
    throw new Error(`ptc's cache ${real} belongs to another user (uid ${stats.uid}): set PTC_CACHE_DIR`);
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new Error(`ptc's cache ${real} is writable by other users: \`chmod go-w\` it or set PTC_CACHE_DIR`);
  }
  return real;
}
