/** How an upstream call failed: an HTTP error reply, no reply, a cancelled call, or a reply ptc can't use. */
export type UpstreamErrorKind = "http" | "connection" | "timeout" | "aborted" | "invalid_response";

/** Anthropic's error types, as ptc's endpoint reports an upstream failure to its own client. */
export type AnthropicErrorType =
  | "invalid_request_error"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error"
  | "request_too_large";

/**
 * A failed upstream call, the same for every provider. Carries the upstream's HTTP status and its own
 * error type and message, so ptc's endpoint can say what the upstream said without leaking SDK classes.
 */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  readonly provider: string;
  readonly kind: UpstreamErrorKind;
  /** The upstream's HTTP status (`http` only). */
  readonly status: number | undefined;
  /** The upstream's own error type (`overloaded_error`, `rate_limit_exceeded`, ...), when it gave one. */
  readonly upstreamType: string | undefined;
  /** The upstream's own message, without the SDK's decoration. */
  readonly upstreamMessage: string;

  constructor(
    provider: string,
    kind: UpstreamErrorKind,
    upstreamMessage: string,
    options: { status?: number; upstreamType?: string; cause?: unknown } = {},
  ) {
    const status = options.status === undefined ? "" : ` ${options.status}`;
    super(`upstream ${provider} ${kind}${status}: ${upstreamMessage}`, { cause: options.cause });
    this.provider = provider;
    this.kind = kind;
    this.status = options.status;
    this.upstreamType = options.upstreamType;
    this.upstreamMessage = upstreamMessage;
  }

  static is(value: unknown): value is UpstreamError {
    return value instanceof UpstreamError;
  }
}

/**
 * The Anthropic error ptc's endpoint returns for an upstream failure. Capacity errors keep their
 * meaning (clients back off on 429/529); a 400/413 is usually the client's conversation (too long);
 * everything else, including the upstream rejecting ptc's own key, is ptc's failure: `api_error`.
 */
export function anthropicErrorFor(error: UpstreamError): { status: number; type: AnthropicErrorType; message: string } {
  const message = `Upstream ${error.provider} model: ${error.upstreamMessage}`;
  switch (error.status) {
    case 429:
      return { status: 429, type: "rate_limit_error", message };
    case 503:
    case 529:
      return { status: 529, type: "overloaded_error", message };
    case 400:
    case 422:
      return { status: 400, type: "invalid_request_error", message };
    case 413:
      return { status: 413, type: "request_too_large", message };
    default:
      return { status: error.kind === "timeout" ? 504 : 500, type: "api_error", message };
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** The upstream's own type and message from an error body: `{error: {type, message}}` (both SDKs) or flat. */
export function upstreamErrorDetails(body: unknown): { type?: string; message?: string } {
  if (!isObject(body)) return {};
  const inner = isObject(body.error) ? body.error : body;
  const details: { type?: string; message?: string } = {};
  if (typeof inner.type === "string") details.type = inner.type;
  if (typeof inner.message === "string") details.message = inner.message;
  return details;
}

/** The SDK error classes both official clients define, by the names they share. */
export interface SdkErrorClasses {
  APIError: abstract new (...args: never[]) => Error & { status: number | undefined; error: unknown };
  APIUserAbortError: abstract new (...args: never[]) => Error;
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
}

/** Turns whatever an SDK call threw into an `UpstreamError`; non-SDK errors pass through untouched. */
export function toUpstreamError(provider: string, error: unknown, sdk: SdkErrorClasses, signal?: AbortSignal): unknown {
  if (error instanceof UpstreamError) return error;
  if (
    error instanceof sdk.APIUserAbortError ||
    (signal?.aborted && error instanceof Error && error.name === "AbortError")
  )
    return new UpstreamError(provider, "aborted", "the request was cancelled", { cause: error });
  if (error instanceof sdk.APIConnectionTimeoutError)
    return new UpstreamError(provider, "timeout", error.message, { cause: error });
  if (error instanceof sdk.APIConnectionError)
    return new UpstreamError(provider, "connection", error.message, { cause: error });
  if (error instanceof sdk.APIError) {
    const details = upstreamErrorDetails(error.error);
    const options: { status?: number; upstreamType?: string; cause: unknown } = { cause: error };
    if (error.status !== undefined) options.status = error.status;
    if (details.type !== undefined) options.upstreamType = details.type;
    return new UpstreamError(provider, "http", details.message ?? error.message, options);
  }
  return error;
}
