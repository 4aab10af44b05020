import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { ERROR_STATUS, errorStatus } from "../../../src/server/http/error-status.js";
import { nativeErrorResponse, toErrorResponse } from "../../../src/server/http/wire-errors.js";
import { UpstreamError } from "../../../src/upstream/upstream-error.js";

describe("code → HTTP status (native API)", () => {
  test("every ErrorCode has a status, and nothing else does", () => {
    const codes = Object.values(ErrorCode).sort();
    assert.deepEqual(Object.keys(ERROR_STATUS).sort(), codes);
    for (const code of codes) {
      const status = errorStatus(code);
      assert.ok(Number.isInteger(status) && status >= 400 && status < 600, `${code}: ${status}`);
    }
  });

  test("the statuses clients rely on", () => {
    assert.equal(errorStatus(ErrorCode.InvalidRequest), 400);
    assert.equal(errorStatus(ErrorCode.PythonError), 400);
    assert.equal(errorStatus(ErrorCode.AuthenticationFailed), 401);
    assert.equal(errorStatus(ErrorCode.NotFound), 404);
    assert.equal(errorStatus(ErrorCode.ContainerExpired), 410);
    assert.equal(errorStatus(ErrorCode.PayloadTooLarge), 413);
    for (const code of [
      ErrorCode.Overloaded,
      ErrorCode.KeyQueueQuotaExceeded,
      ErrorCode.KeyContainerQuotaExceeded,
      ErrorCode.ContainerCapReached,
      ErrorCode.ContainerQueueFull,
    ]) {
      assert.equal(errorStatus(code), 429, code);
    }
    assert.equal(errorStatus(ErrorCode.InternalError), 500);
    assert.equal(errorStatus(ErrorCode.EngineClosed), 503);
    assert.equal(errorStatus(ErrorCode.ShuttingDown), 503);
    assert.equal(errorStatus(ErrorCode.UpstreamUnavailable), 503);
  });
});

describe("native error rendering", () => {
  test("a refusal: status from the table, Anthropic's type for it, the code, Retry-After", async () => {
    const response = nativeErrorResponse(
      new PtcError(
        ErrorCode.KeyQueueQuotaExceeded,
        "this key's share of the queue is full",
        {},
        { retryAfterSeconds: 4 },
      ),
    );
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "4");
    assert.equal(
      await response.text(),
      '{"type":"error","error":{"type":"rate_limit_error","code":"key_queue_quota_exceeded","message":"this key\'s share of the queue is full"}}',
    );
  });

  test("each code keeps its status and Anthropic type; no Retry-After unless the error says when", async () => {
    const cases: Array<[ErrorCode, number, string]> = [
      [ErrorCode.InvalidRequest, 400, "invalid_request_error"],
      [ErrorCode.ToolTimeout, 400, "invalid_request_error"],
      [ErrorCode.AuthenticationFailed, 401, "authentication_error"],
      [ErrorCode.NotFound, 404, "not_found_error"],
      [ErrorCode.ContainerExpired, 410, "not_found_error"],
      [ErrorCode.PayloadTooLarge, 413, "request_too_large"],
      [ErrorCode.ShuttingDown, 503, "overloaded_error"],
      [ErrorCode.EngineClosed, 503, "overloaded_error"],
    ];
    for (const [code, status, type] of cases) {
      const response = nativeErrorResponse(new PtcError(code, `the ${code} message`));
      assert.equal(response.status, status, code);
      assert.equal(response.headers.get("retry-after"), null, code);
      assert.deepEqual(await response.json(), { type: "error", error: { type, code, message: `the ${code} message` } });
    }
  });

  test("anything that is not a PtcError is a 500 without details, flagged internal (to be logged)", async () => {
    const { response, internal } = toErrorResponse(new TypeError("secret detail"));
    assert.equal(internal, true);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), {
      type: "error",
      error: { type: "api_error", code: "internal_error", message: "internal server error" },
    });
    const known = toErrorResponse(new PtcError(ErrorCode.InvalidRequest, "bad"));
    assert.equal(known.internal, false);
    assert.equal(known.response.status, 400);
  });

  test("a PtcError from another copy of ptc is recognised by its marker, not by instanceof", async () => {
    const foreign = Object.assign(new Error("not found here"), {
      [Symbol.for("ptc.error")]: true,
      code: ErrorCode.NotFound,
      details: {},
      retryAfterSeconds: undefined,
    });
    assert.equal(foreign instanceof PtcError, false);
    assert.ok(PtcError.isInstance(foreign));
    const { response, internal } = toErrorResponse(foreign);
    assert.equal(internal, false);
    assert.equal(response.status, 404);
  });

  test("an upstream failure is a PtcError with its own code: 502 on the native API", () => {
    const error = new UpstreamError("openai", "http", "boom", { status: 500 });
    assert.ok(PtcError.is(error, ErrorCode.UpstreamFailed));
    assert.ok(UpstreamError.isInstance(error));
    assert.equal(UpstreamError.isInstance(new PtcError(ErrorCode.UpstreamFailed, "no details")), false);
    assert.equal(toErrorResponse(error).response.status, 502);
  });
});
