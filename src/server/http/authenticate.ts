import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ownerOf } from "../resource-owners.js";
import { errorResponse, WireErrorCode } from "./wire-errors.js";

export interface AuthVariables {
  /** `ownerOf(apiKey)`: every execution and container is recorded under it. */
  owner: string;
}

/** The key as @anthropic-ai/sdk (`x-api-key`) or the openai SDK (`Authorization: Bearer`) sends it. */
export function presentedKey(headers: Headers): string | undefined {
  const apiKey = headers.get("x-api-key");
  if (apiKey) return apiKey.trim();
  const authorization = headers.get("authorization");
  const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization.trim()) : null;
  return match?.[1]?.trim();
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
        401,
        WireErrorCode.AuthenticationFailed,
        "missing API key: send it as x-api-key or Authorization: Bearer",
      );
    }
    if (!matches(key)) return errorResponse(401, WireErrorCode.AuthenticationFailed, "invalid API key");
    c.set("owner", ownerOf(key));
    await next();
  };
}
