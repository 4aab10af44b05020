import type { Context } from "hono";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { anthropicErrorType } from "../anthropic/anthropic-error-type.js";
import { errorStatus } from "./error-status.js";

/**
 * ptc's native error body (the executions API, and every answer given before a request reaches an
 * endpoint): the stable `code` clients branch on, and Anthropic's `type` for the status, so SDKs built for
 * Anthropic's API classify ptc's errors too.
 */
export interface WireErrorBody {
  type: "error";
  error: { type: string; code: string; message: string };
}

export function wireErrorBody(status: number, code: ErrorCode, message: string): WireErrorBody {
  return { type: "error", error: { type: anthropicErrorType(status), code, message } };
}

/** A `PtcError` as ptc's native API answers it: the status from `ERROR_STATUS`, `Retry-After` when it says when. */
export function nativeErrorResponse(error: PtcError): Response {
  const status = errorStatus(error.code);
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { "retry-after": String(error.retryAfterSeconds) };
  return Response.json(wireErrorBody(status, error.code, error.message), { status, headers });
}

/** Shorthand for answering without throwing (middleware, `notFound`). */
export function errorResponse(code: ErrorCode, message: string): Response {
  return nativeErrorResponse(new PtcError(code, message));
}

/** Maps anything thrown to a response: a `PtcError` by its code; the rest are 500 without details. */
export function toErrorResponse(error: unknown): { response: Response; internal: boolean } {
  if (PtcError.isInstance(error)) return { response: nativeErrorResponse(error), internal: false };
  return { response: errorResponse(ErrorCode.InternalError, "internal server error"), internal: true };
}

/** Parses a JSON body without ever letting the parser's message (or a stack) reach the client unlabelled. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw new PtcError(ErrorCode.InvalidRequest, "request body must be a JSON object");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : "malformed JSON";
    throw new PtcError(ErrorCode.InvalidRequest, `request body is not valid JSON: ${reason}`);
  }
}
