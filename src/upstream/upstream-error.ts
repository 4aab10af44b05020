import { ErrorCode, PtcError } from "../protocol/errors.js";

/** How an upstream call failed: an HTTP error reply, no reply, a cancelled call, or a reply ptc can't use. */
export type UpstreamErrorKind = "http" | "connection" | "timeout" | "aborted" | "invalid_response";

/**
 * A failed upstream call, the same for every provider: what the upstream said (its HTTP status, its own
 * error type and message) and whether trying again may help. How ptc's endpoints report it to their own
 * clients is theirs to decide (server/anthropic/anthropic-errors.ts), not this module's.
 */
export class UpstreamError extends PtcError {
  override readonly name: string = "UpstreamError";
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
    super(
      ErrorCode.UpstreamFailed,
      `upstream ${provider} ${kind}${status}: ${upstreamMessage}`,
      { provider, kind, ...(options.status === undefined ? {} : { status: options.status }) },
      { cause: options.cause },
    );
    this.provider = provider;
    this.kind = kind;
    this.status = options.status;
    this.upstreamType = options.upstreamType;
    this.upstreamMessage = upstreamMessage;
  }

  /**
   * Whether the same call may succeed later: no reply or a timeout, a rate limit (429), or the upstream's
   * own trouble (5xx, Anthropic's 529 overloaded). A refused request (other 4xx), a cancelled call or a
   * reply ptc can't use fails again.
   */
  get retryable(): boolean {
    if (this.kind === "connection" || this.kind === "timeout") return true;
    if (this.kind !== "http" || this.status === undefined) return false;
    return this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }

  /** Any `UpstreamError`, from this copy of ptc or another (marker-based, like `PtcError.isInstance`). */
  static override isInstance(value: unknown): value is UpstreamError {
    return PtcError.is(value, ErrorCode.UpstreamFailed) && "upstreamMessage" in value;
  }

  static override is(value: unknown): value is UpstreamError {
    return UpstreamError.isInstance(value);
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
  if (UpstreamError.isInstance(error)) return error;
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
