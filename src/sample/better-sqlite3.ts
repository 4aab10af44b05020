import { createRequire } from "node:module";
import type Database from "better-sqlite3";

/** What the sample's error says when better-sqlite3 is not installed (ptc's CLI prefixes `ptc: `). */
export const BETTER_SQLITE3_MISSING = "the built-in sample needs better-sqlite3: npm install better-sqlite3";

const require = createRequire(import.meta.url);
let loaded: typeof Database | undefined;

/**
 * better-sqlite3, loaded the first time the sample needs it. It is an optional peer dependency (a native
 * module only the built-in sample uses), so importing ptc must work without it. `require`, not `import()`:
 * better-sqlite3 is CommonJS and the sample's entry points (`createSampleTools`, `createSalesDatabase`)
 * are synchronous.
 */
function betterSqlite3(): typeof Database {
  if (loaded) return loaded;
  try {
    loaded = require("better-sqlite3") as typeof Database;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "MODULE_NOT_FOUND" && String((error as Error).message).includes("'better-sqlite3'")) {
      throw new Error(BETTER_SQLITE3_MISSING, { cause: error });
    }
    throw error;
  }
  return loaded;
}

/**
 * `new Database(...)` from better-sqlite3, loaded on demand. better-sqlite3 finds its native addon only
 * when the first database opens: an install that skipped its install script (npm's `allowScripts`,
 * `--ignore-scripts`) fails here, with a hint.
 */
export function openDatabase(filename: string | Buffer, options?: Database.Options): Database.Database {
  const Constructor = betterSqlite3();
  try {
    return new Constructor(filename, options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!message.includes("bindings file") && !message.includes("better_sqlite3.node")) throw error;
    throw new Error(
      `the built-in sample needs better-sqlite3's native addon, which is not built: npm rebuild better-sqlite3 (${message.split("\n")[0]})`,
      { cause: error },
    );
  }
}
