/** Anthropic's error `type`s (`Anthropic.ErrorObject["type"]`). */
export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

/**
 * Anthropic's error `type` for an HTTP status, as its API pairs them (400, 401, 403, 404, 413, 429, 500,
 * 529), so SDKs built for it classify ptc's errors too. 410 (gone) reads as not found, 503 as overloaded;
 * any other status is `api_error`. ptc's native error body carries it too.
 */
export function anthropicErrorType(status: number): AnthropicErrorType {
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
