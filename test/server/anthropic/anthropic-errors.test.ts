import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { createAdmissionController } from "../../../src/server/admission.js";
import { anthropicErrorType } from "../../../src/server/anthropic/anthropic-error-type.js";
import { anthropicErrorResponse, toAnthropicError } from "../../../src/server/anthropic/anthropic-errors.js";
import { UpstreamError } from "../../../src/upstream/upstream-error.js";

const refusal = (code: ErrorCode, message: string, retryAfterSeconds: number) =>
  new PtcError(code, message, {}, { retryAfterSeconds });

describe("admission refusals on /v1/messages", () => {
  test("the server's queue full is 529 overloaded_error; one key's share full is 429 rate_limit_error naming it", () => {
    const overloaded = toAnthropicError(refusal(ErrorCode.Overloaded, "queue full", 2));
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.type, "overloaded_error");
    assert.equal(overloaded.message, "queue full");
    assert.equal(overloaded.headers["retry-after"], "2");
    const quota = toAnthropicError(
      refusal(ErrorCode.KeyQueueQuotaExceeded, "this key's share of the queue is full", 3),
    );
    assert.equal(quota.status, 429);
    assert.equal(quota.type, "rate_limit_error");
    assert.match(quota.message, /^key_queue_quota_exceeded: /);
    assert.equal(quota.headers["retry-after"], "3");
  });

  test("what the admission controller throws maps as above; after close, 529 without Retry-After", () => {
    const admission = createAdmissionController({
      maxRunningExecutions: 1,
      maxQueuedExecutions: 0,
      retryAfterSeconds: 5,
    });
    admission.tryAcquire("A");
    let thrown: unknown;
    try {
      void admission.acquire(undefined, "B");
    } catch (error) {
      thrown = error;
    }
    assert.deepEqual(toAnthropicError(thrown), {
      status: 529,
      type: "overloaded_error",
      message: "too many executions: 1 running and 0 queued",
      headers: { "retry-after": "5" },
    });
    admission.close();
    try {
      admission.tryAcquire("A");
    } catch (error) {
      thrown = error;
    }
    assert.deepEqual(toAnthropicError(thrown), {
      status: 529,
      type: "overloaded_error",
      message: "the server is shutting down",
      headers: {},
    });
  });
});

describe("Anthropic error rendering", () => {
  test("status → type as Anthropic's API pairs them", () => {
    const pairs: Array<[number, string]> = [
      [400, "invalid_request_error"],
      [401, "authentication_error"],
      [403, "permission_error"],
      [404, "not_found_error"],
      [413, "request_too_large"],
      [429, "rate_limit_error"],
      [500, "api_error"],
      [502, "api_error"],
      [529, "overloaded_error"],
    ];
    for (const [status, type] of pairs) assert.equal(anthropicErrorType(status), type, String(status));
  });

  test("codes: invalid request, not found, an expired container (400 naming the code), container quotas", () => {
    assert.deepEqual(toAnthropicError(new PtcError(ErrorCode.InvalidRequest, "model: Field required")), {
      status: 400,
      type: "invalid_request_error",
      message: "model: Field required",
      headers: {},
    });
    assert.equal(toAnthropicError(new PtcError(ErrorCode.NotFound, "container c not found")).status, 404);
    const expired = toAnthropicError(new PtcError(ErrorCode.ContainerExpired, "container c has expired"));
    assert.equal(expired.status, 400);
    assert.equal(expired.type, "invalid_request_error");
    assert.equal(expired.message, "container_expired: container c has expired");
    for (const code of [
      ErrorCode.KeyContainerQuotaExceeded,
      ErrorCode.ContainerCapReached,
      ErrorCode.ContainerQueueFull,
    ]) {
      const quota = toAnthropicError(refusal(code, "no idle container", 9));
      assert.equal(quota.status, 429);
      assert.equal(quota.type, "rate_limit_error");
      assert.equal(quota.message, `${code}: no idle container`);
      assert.equal(quota.headers["retry-after"], "9");
    }
    const closed = toAnthropicError(new PtcError(ErrorCode.EngineClosed, "the engine is closed"));
    assert.deepEqual(
      [closed.status, closed.type, closed.message],
      [529, "overloaded_error", "the server is shutting down"],
    );
  });

  test("upstream failures keep their meaning: 429, 529, 400, 413; anything else is 502 api_error", () => {
    const cases: Array<[UpstreamError, number, string]> = [
      [new UpstreamError("openai", "http", "slow down", { status: 429 }), 429, "rate_limit_error"],
      [new UpstreamError("anthropic", "http", "Overloaded", { status: 529 }), 529, "overloaded_error"],
      [new UpstreamError("openai", "http", "busy", { status: 503 }), 529, "overloaded_error"],
      [new UpstreamError("openai", "http", "bad", { status: 422 }), 400, "invalid_request_error"],
      [new UpstreamError("anthropic", "http", "too long", { status: 413 }), 413, "request_too_large"],
      [new UpstreamError("anthropic", "http", "bad key", { status: 401 }), 502, "api_error"],
      [new UpstreamError("openai", "timeout", "timed out"), 502, "api_error"],
      [new UpstreamError("openai", "connection", "refused"), 502, "api_error"],
    ];
    for (const [error, status, type] of cases) {
      const mapped = toAnthropicError(error);
      assert.equal(mapped.status, status, error.message);
      assert.equal(mapped.type, type, error.message);
      assert.equal(mapped.message, `Upstream ${error.provider} model: ${error.upstreamMessage}`);
    }
  });

  test("the response: Anthropic's body with request_id; an internal failure is 500 without details, not retried", async () => {
    const response = anthropicErrorResponse(new Error("secret"), "req_1");
    assert.equal(response.status, 500);
    assert.equal(response.headers.get("x-should-retry"), "false");
    assert.equal(response.headers.get("request-id"), "req_1");
    assert.equal(
      await response.text(),
      '{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_1"}',
    );
    const refused = anthropicErrorResponse(refusal(ErrorCode.Overloaded, "queue full", 2));
    assert.equal(refused.status, 529);
    assert.equal(refused.headers.get("retry-after"), "2");
    assert.equal(refused.headers.get("x-should-retry"), null);
    assert.deepEqual(await refused.json(), {
      type: "error",
      error: { type: "overloaded_error", message: "queue full" },
      request_id: null,
    });
    // Engine codes are ptc's own failure on this endpoint, as before: no detail leaks.
    const internal = toAnthropicError(new PtcError(ErrorCode.ToolTimeout, "tool slow"));
    assert.deepEqual([internal.status, internal.message], [500, "Internal server error"]);
  });
});
