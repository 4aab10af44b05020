import type { Context } from "hono";
import { ErrorCode, PtcError } from "../../protocol/errors.js";

/**
 * Codes the HTTP layer adds to `ErrorCode`: every error body carries one, so clients branch on a
 * stable string rather than on a message.
 */
export const WireErrorCode = {
  ...ErrorCode,
  AuthenticationFailed: "authentication_failed",
  NotFound: "not_found",
  ContainerExpired: "container_expired",
  ExecutionFinished: "execution_finished",
  /** The server's admission queue is full. */
  Overloaded: "overloaded",
  /** This key already has its share of the admission queue waiting. */
  KeyQueueQuotaExceeded: "key_queue_quota_exceeded",
  /** This key holds its share of live containers and none of them is idle. */
  KeyContainerQuotaExceeded: "key_container_quota_exceeded",
  /** The server holds its cap of live containers and none of this key's is idle. */
  ContainerCapReached: "container_cap_reached",
  /** Too many executions already wait for their turn in this (busy) container. */
  ContainerQueueFull: "container_queue_full",
  PayloadTooLarge: "payload_too_large",
  ShuttingDown: "shutting_down",
  UpstreamUnavailable: "upstream_unavailable",
  InternalError: "internal_error",
} as const;

export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** Anthropic's error `type` for each status, so SDKs built for its API classify ptc's errors too. */
function anthropicType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
    case 410:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

export interface WireErrorBody {
  type: "error";
  error: { type: string; code: string; message: string };
}

export function wireErrorBody(status: number, code: string, message: string): WireErrorBody {
  return { type: "error", error: { type: anthropicType(status), code, message } };
}

/** An error a route throws to answer with `status`; `app.onError` renders it. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return Response.json(wireErrorBody(status, code, message), { status, headers });
}

/** Maps anything thrown to a response: known errors keep their status and code; the rest are 500 without details. */
export function toErrorResponse(error: unknown): { response: Response; internal: boolean } {
  if (error instanceof HttpError) {
    return { response: errorResponse(error.status, error.code, error.message, error.headers), internal: false };
  }
  if (PtcError.is(error)) {
    const status = error.code === ErrorCode.EngineClosed ? 503 : 400;
    return { response: errorResponse(status, error.code, error.message), internal: false };
  }
  return {
    response: errorResponse(500, WireErrorCode.InternalError, "internal server error"),
    internal: true,
  };
}

/** Parses a JSON body without ever letting the parser's message (or a stack) reach the client unlabelled. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw new HttpError(400, WireErrorCode.InvalidRequest, "request body must be a JSON object");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : "malformed JSON";
    throw new HttpError(400, WireErrorCode.InvalidRequest, `request body is not valid JSON: ${reason}`);
  }
}
