import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Ids in Anthropic's style (`msg_01…`, `toolu_01…`, `container_01…`): a prefix, `_01` and 22 random base62 characters. */
export function anthropicStyleId(prefix: string): string {
  let id = `${prefix}_01`;
  for (const byte of randomBytes(22)) id += BASE62[byte % 62];
  return id;
}
