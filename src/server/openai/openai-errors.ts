import type { MiddlewareHandler } from "hono";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { UpstreamError } from "../../upstream/upstream-error.js";

/** OpenAI's error body (`{error: {message, type, param, code}}`), which its SDKs read as `APIError.error`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** How `/v1/responses` answers one error: status, body and headers (e.g. `retry-after`). */
export interface OpenAIErrorReply {
  status: number;
  body: OpenAIErrorBody;
  headers: Readonly<Record<string, string>>;
}

/** OpenAI's wording for a failure on its side, which clients may match on. */
const SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!";
const OVERLOADED_MESSAGE = "The server is currently overloaded with other requests. Sorry about that! Please retry.";
const SHUTTING_DOWN_MESSAGE = "the server is shutting down";

/**
 * A 400 as OpenAI words it: `param` names the offending field (`tools[0].name`), `code` is OpenAI's
 * (`missing_required_parameter`, `invalid_type`, `invalid_value`, `unknown_parameter`, ...) or null.
 */
export function openaiInvalid(message: string, param: string | null = null, code: string | null = null): PtcError {
  return new PtcError(ErrorCode.InvalidRequest, message, { param, openaiCode: code });
}

/** A 404 (`previous_response_id` or an `item_reference` this key does not have). */
export function openaiNotFound(message: string, param: string, code: string | null = null): PtcError {
  return new PtcError(ErrorCode.NotFound, message, { param, openaiCode: code });
}

function body(message: string, type: string, param: string | null, code: string | null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

function detail(error: PtcError, key: "param" | "openaiCode"): string | null {
  const value = error.details[key];
  return typeof value === "string" ? value : null;
}

function retryAfter(error: PtcError): Record<string, string> {
  return error.retryAfterSeconds === undefined ? {} : { "retry-after": String(error.retryAfterSeconds) };
}

/**
 * An upstream failure as the upstream meant it: its rate limit stays a 429 and its overload a 503 (the
 * SDK backs off on both); a refused request (400/422) is usually the conversation (too long); anything else
 * is a bad gateway (502, which the SDK retries).
 */
function upstreamReply(error: UpstreamError): OpenAIErrorReply {
  const message = `Upstream ${error.provider} model: ${error.upstreamMessage}`;
  const status =
    error.status === 429
      ? 429
      : error.status === 503 || error.status === 529
        ? 503
        : error.status === 400 || error.status === 422
          ? 400
          : 502;
  const type = status === 400 ? "invalid_request_error" : status === 429 ? "rate_limit_exceeded" : "server_error";
  return { status, body: body(message, type, null, error.upstreamType ?? null), headers: {} };
}

function codeReply(error: PtcError): OpenAIErrorReply {
  const invalid = (status: number): OpenAIErrorReply => ({
    status,
    body: body(error.message, "invalid_request_error", detail(error, "param"), detail(error, "openaiCode")),
    headers: {},
  });
  switch (error.code) {
    case ErrorCode.InvalidRequest:
      return invalid(400);
    case ErrorCode.NotFound:
      return invalid(404);
    case ErrorCode.PayloadTooLarge:
    case ErrorCode.RecordedValueTooLarge:
    case ErrorCode.ReplayTooLarge:
      return invalid(413);
    // The key's stored-response bytes cannot hold this one: `store: false` can.
    case ErrorCode.ResponseStoreQuotaExceeded:
      return { status: 413, body: body(error.message, "invalid_request_error", "store", error.code), headers: {} };
    // ptc's own codes for a program it cannot continue: a 400 the client can tell apart by `code`.
    case ErrorCode.ProgramFingerprintInvalid:
    case ErrorCode.ReplayDiverged:
    case ErrorCode.ContainerExpired:
      return { status: 400, body: body(error.message, "invalid_request_error", "input", error.code), headers: {} };
    case ErrorCode.AuthenticationFailed:
      return { status: 401, body: body(error.message, "invalid_request_error", null, "invalid_api_key"), headers: {} };
    // This key's own share is used up: its rate limit, not the server's overload.
    case ErrorCode.KeyQueueQuotaExceeded:
    case ErrorCode.KeyContainerQuotaExceeded:
    case ErrorCode.ContainerCapReached:
    case ErrorCode.ContainerQueueFull:
      return {
        status: 429,
        body: body(`${error.code}: ${error.message}`, "rate_limit_exceeded", null, error.code),
        headers: retryAfter(error),
      };
    case ErrorCode.Overloaded:
    case ErrorCode.StoreUnavailable:
    case ErrorCode.NodeUnreachable:
      return {
        status: 503,
        body: body(`${OVERLOADED_MESSAGE} (${error.code}: ${error.message})`, "server_error", null, error.code),
        headers: retryAfter(error),
      };
    case ErrorCode.ShuttingDown:
    case ErrorCode.EngineClosed:
      return { status: 503, body: body(SHUTTING_DOWN_MESSAGE, "server_error", null, error.code), headers: {} };
    case ErrorCode.UpstreamUnavailable:
      return { status: 503, body: body(error.message, "server_error", null, error.code), headers: {} };
    default:
      return { status: 500, body: body(SERVER_ERROR_MESSAGE, "server_error", null, null), headers: {} };
  }
}

/** Anything `/v1/responses` threw, as OpenAI's API would answer it. The one mapping for this endpoint. */
export function toOpenAIError(error: unknown): OpenAIErrorReply {
  if (UpstreamError.isInstance(error)) return upstreamReply(error);
  if (PtcError.isInstance(error)) return codeReply(error);
  return { status: 500, body: body(SERVER_ERROR_MESSAGE, "server_error", null, null), headers: {} };
}

export function openaiErrorResponse(thrown: unknown): Response {
  const error = toOpenAIError(thrown);
  const headers: Record<string, string> = { ...error.headers };
  // The SDK retries 5xx by default; an internal failure will not go away on retry.
  if (error.status === 500) headers["x-should-retry"] = "false";
  return Response.json(error.body, { status: error.status, headers });
}

/**
 * For `/v1/responses`, answers given before the request reaches the endpoint (a missing or wrong key, a
 * body over the size limit, no upstream configured) in OpenAI's shape instead of ptc's native one.
 */
export function openaiErrorShape(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const response = c.res;
    if (response.status < 400 || !response.headers.get("content-type")?.includes("application/json")) return;
    const native = (await response.clone().json()) as { type?: unknown; error?: { code?: unknown; message?: unknown } };
    if (native.type !== "error" || typeof native.error?.code !== "string") return;
    const { code, message } = native.error;
    const reply = toOpenAIError(new PtcError(code as ErrorCode, typeof message === "string" ? message : code));
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    c.res = new Response(JSON.stringify(reply.body), { status: response.status, headers });
  };
}
