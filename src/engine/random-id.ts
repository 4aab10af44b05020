import { randomFillSync } from "node:crypto";

// Every id the engine and the server mint, in one place (container ids: `newContainerId`, container-registry.ts).
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Random bytes drawn 4 KiB at a time and each used once (as Node's own randomUUID does): a `randomBytes` call
// per id cost a one-off execution ~20 µs of the host's CPU each, three ids an execution (its id, its
// container's, its calls' prefix).
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomByte(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++] as number;
}

function randomBase64url(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const text = pool.toString("base64url", poolAt, poolAt + bytes);
  poolAt += bytes;
  return text;
}

/** Ids in Anthropic's style (`msg_01…`, `toolu_01…`, `container_01…`): a prefix, `_01` and 22 random base62 characters. */
export function anthropicStyleId(prefix: string): string {
  let id = `${prefix}_01`;
  for (let length = 0; length < 22; ) {
    const byte = randomByte();
    // 248 = 4 x 62: bytes past it are drawn again, so every character is equally likely.
    if (byte >= 248) continue;
    id += BASE62[byte % 62];
    length++;
  }
  return id;
}

/** Execution ids (`exec_…`): 12 random bytes, base64url. */
export function newExecutionId(): string {
  return `exec_${randomBase64url(12)}`;
}

/**
 * Call ids: a random prefix per execution plus a counter. Unique across executions, and cheap on
 * the per-call hot path (drawing fresh random bytes per call cost ~15 µs here).
 */
export function callIdFactory(): () => string {
  const prefix = `call_${randomBase64url(9)}`;
  let counter = 0;
  return () => `${prefix}${(counter++).toString(36).padStart(4, "0")}`;
}
