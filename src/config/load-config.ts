import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ErrorCode, PtcError } from "../protocol/errors.js";
import { type PtcConfig, PtcConfigSchema } from "./ptc-config.js";

export const CONFIG_FILE_NAME = "ptc.config.json";

export interface LoadedConfig {
  config: PtcConfig;
  /** The file it came from, or undefined when none was found. */
  path: string | undefined;
  /** Relative paths in the config resolve against this directory. */
  directory: string;
}

/** Replaces `${NAME}` with the environment variable; a missing variable is an error, not an empty string. */
export function expandEnvironment<T>(value: T, environment: NodeJS.ProcessEnv, where = "config"): T {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = environment[name];
      if (found === undefined) {
        throw new PtcError(ErrorCode.InvalidRequest, `${where}: environment variable ${name} is not set`);
      }
      return found;
    }) as T;
  }
  if (Array.isArray(value))
    return value.map((item, index) => expandEnvironment(item, environment, `${where}[${index}]`)) as T;
  if (typeof value === "object" && value !== null) {
    const expanded: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      expanded[key] = expandEnvironment(item, environment, `${where}.${key}`);
    return expanded as T;
  }
  return value;
}

/**
 * Expands `${NAME}` references, then validates; errors name the field. Expanding first lets a whole
 * value come from the environment (`"url": "${TICKETS_URL}"`) and still be checked as a URL.
 */
export function parseConfig(raw: unknown, source = CONFIG_FILE_NAME, environment = process.env): PtcConfig {
  const parsed = PtcConfigSchema.safeParse(expandEnvironment(raw, environment, source));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new PtcError(ErrorCode.InvalidRequest, `${source} is invalid:\n  ${problems.join("\n  ")}`);
  }
  return parsed.data;
}

/** Loads `path`, or `ptc.config.json` in `cwd` when it exists; no file means an empty config. */
export async function loadConfig(path?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const file = path !== undefined ? resolve(cwd, path) : resolve(cwd, CONFIG_FILE_NAME);
  if (path === undefined && !existsSync(file)) return { config: {}, path: undefined, directory: cwd };
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PtcError(ErrorCode.InvalidRequest, `cannot read config ${file}: ${reason}`);
  }
  return { config: parseConfig(raw, file), path: file, directory: dirname(file) };
}
