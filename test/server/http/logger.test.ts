import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import { createJsonLogger, logUnhandledError } from "../../../src/server/http/logger.js";

// What the APIs log when they answer a bare 500 (src/server/http/logger.ts): the error's name, code and
// message, the request's fields, never a stack.
test("an unhandled error is one JSON line with its name, code and message", () => {
  const lines: string[] = [];
  const logger = createJsonLogger((line) => lines.push(line));
  logUnhandledError(logger, new PtcError(ErrorCode.SandboxCrashed, "the sandbox exited"), { request_id: "req_1" });
  logUnhandledError(logger, new TypeError("x is not a function"));
  logUnhandledError(logger, "a string thrown");
  const [crashed, typeError, thrown] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(crashed?.level, "error");
  assert.equal(crashed?.msg, "unhandled error");
  assert.equal(crashed?.request_id, "req_1");
  assert.equal(crashed?.code, ErrorCode.SandboxCrashed);
  assert.match(String(crashed?.error), /: the sandbox exited$/);
  assert.equal(typeError?.error, "TypeError: x is not a function");
  assert.equal(typeError?.code, undefined);
  assert.equal(thrown?.error, "unknown");
  assert.ok(
    lines.every((line) => line.endsWith("\n") && !line.includes("    at ")),
    "one line each, no stack",
  );
});
