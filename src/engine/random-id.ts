import { randomBytes } from "node:crypto";

// Every id the engine and the server mint, in one place (container ids: `newContainerId`, container-registry.ts).
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Ids in Anthropic's style (`msg_01…`, `toolu_01…`, `container_01…`): a prefix, `_01` and 22 random base62 characters. */
export function anthropicStyleId(prefix: string): string {
  let id = `${prefix}_01`;
  for (const byte of randomBytes(22)) id += BASE62[byte % 62];
  return id;
}

/** Execution ids (`exec_…`): 12 random bytes, base64url. */
export function newExecutionId(): string {
  return `exec_${randomBytes(12).toString("base64url")}`;
}

/**
 * Call ids: a random prefix per execution plus a counter. Unique across executions, and cheap on
 * the per-call hot path (drawing fresh random bytes per call cost ~15 µs here).
 */
export function callIdFactory(): () => string {
  const prefix = `call_${randomBytes(9).toString("base64url")}`;
  let counter = 0;
  return () => `${prefix}${(counter++).toString(36).padStart(4, "0")}`;
}
