/**
 * Structured logs: one JSON object per line on stderr. Callers pass only operational fields (ids,
 * method, path, status, durations): never API keys, code, tool inputs or results.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

export function createJsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  return {
    log(level, message, fields = {}) {
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };

/**
 * An error ptc did not expect (what the APIs answer with a bare 500), as one line: its name, code and message,
 * never its stack or the request's content. Without it an operator sees a 500 and nothing to go on.
 */
export function logUnhandledError(logger: Logger, error: unknown, fields: LogFields = {}): void {
  const code = (error as { code?: unknown } | null)?.code;
  logger.log("error", "unhandled error", {
    ...fields,
    error: error instanceof Error ? `${error.name}: ${error.message}` : "unknown",
    ...(typeof code === "string" ? { code } : {}),
  });
}
