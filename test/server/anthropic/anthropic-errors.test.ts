import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AdmissionRefusedError } from "../../../src/server/admission.js";
import { toAnthropicError } from "../../../src/server/anthropic/anthropic-errors.js";
import { WireErrorCode } from "../../../src/server/http/wire-errors.js";

describe("admission refusals on /v1/messages", () => {
  test("the server's queue full is 529 overloaded_error; one key's share full is 429 rate_limit_error naming it", () => {
    const overloaded = toAnthropicError(new AdmissionRefusedError(429, WireErrorCode.Overloaded, "queue full", 2));
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.type, "overloaded_error");
    assert.equal(overloaded.headers["retry-after"], "2");
    const quota = toAnthropicError(
      new AdmissionRefusedError(429, WireErrorCode.KeyQueueQuotaExceeded, "this key's share of the queue is full", 3),
    );
    assert.equal(quota.status, 429);
    assert.equal(quota.type, "rate_limit_error");
    assert.match(quota.message, /^key_queue_quota_exceeded: /);
    assert.equal(quota.headers["retry-after"], "3");
  });
});
