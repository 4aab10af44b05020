import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ErrorCode } from "../../protocol/errors.js";
import { ownerOf, runAsOwner } from "../resource-owners.js";
import { errorResponse } from "./wire-errors.js";

export interface AuthVariables {
  /** `ownerOf(apiKey)`: every execution and container is recorded under it. */
  owner: string;
}

/**
 * The key as @anthropic-ai/sdk (`x-api-key`) or the openai SDK (`Authorization: Bearer KEY`, one space)
 * sends it, byte for byte: nothing is trimmed, so a key with anything around it (a non-breaking space,
 * a second space or a tab after `Bearer`) is another key, and fails. (HTTP itself drops spaces and tabs
 * at the very start and end of a header value before any application sees it.)
 */
export function presentedKey(headers: Headers): string | undefined {
  const apiKey = headers.get("x-api-key");
  if (apiKey) return apiKey;
  const authorization = headers.get("authorization");
  const match = authorization ? /^Bearer (.+)$/i.exec(authorization) : null;
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Compares fixed-length digests with `timingSafeEqual` against every configured key, without an
 * early exit, so neither the key's length nor which key matched shows in the response time.
 */
export function createKeyMatcher(apiKeys: readonly string[]): (presented: string) => boolean {
  const digests = apiKeys.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let matched = false;
    for (const known of digests) matched = timingSafeEqual(known, candidate) || matched;
    return matched;
  };
}

export function authenticate(apiKeys: readonly string[]): MiddlewareHandler<{ Variables: AuthVariables }> {
  const matches = createKeyMatcher(apiKeys);
  return async (c, next) => {
    const key = presentedKey(c.req.raw.headers);
    if (key === undefined || key === "") {
      return errorResponse(
        ErrorCode.AuthenticationFailed,
        "missing API key: send it as x-api-key or Authorization: Bearer",
      );
    }
    if (!matches(key)) return errorResponse(ErrorCode.AuthenticationFailed, "invalid API key");
    const owner = ownerOf(key);
    c.set("owner", owner);
    // The rest of the request runs as this owner: what it admits (e.g. a /v1/messages script's slot) counts against its key.
    await runAsOwner(owner, next);
  };
}
