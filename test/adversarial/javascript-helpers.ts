import assert from "node:assert/strict";
import { ErrorCode } from "../../src/protocol/errors.js";
import type { ExecutionResult, ScriptLanguage } from "../../src/protocol/execution.js";
import type { ExecutionLimits } from "../../src/protocol/limits.js";
import { assertNoHostLeak, type Harness } from "./harness.js";

/**
 * Helpers of the JavaScript adversarial cases: a JavaScript (or TypeScript) execution on the harness's
 * engine, the checks of its outcome, and the probe that a later execution sees nothing of an attack.
 */

export interface JavaScriptRun {
  code: string;
  container?: string;
  limits?: Partial<ExecutionLimits>;
  language?: Exclude<ScriptLanguage, "python">;
}

/** Runs guest JavaScript on the harness's engine (the server's own) and checks its result leaks nothing of the host. */
export async function runJs(harness: Harness, run: JavaScriptRun): Promise<ExecutionResult> {
  const { language = "javascript", ...rest } = run;
  const result = await harness.engine.execute({ ...rest, language }).result;
  assertNoHostLeak(JSON.stringify(result));
  return result;
}

export function assertCompletedJs(result: ExecutionResult): ExecutionResult {
  assert.equal(result.status, "completed", JSON.stringify(result.error));
  return result;
}

/** The code of an error the script itself raised (uncaught), as for Python. */
export const GUEST_ERROR = "javascript_error";

const STABLE_CODES = new Set<string>(Object.values(ErrorCode));

/** Failed with `code` (a stable one), a message, and no host detail. */
export function assertFailedJs(result: ExecutionResult, code: string): ExecutionResult {
  assert.equal(result.status, "failed", `expected ${code}, got ${result.status}: ${result.stdout.slice(0, 300)}`);
  const error = result.error;
  assert.ok(error, "the result has an error");
  assert.ok(STABLE_CODES.has(error.code), `stable code, got ${error.code}`);
  assert.equal(error.code, code, `${error.type}: ${error.message}`.slice(0, 500));
  assert.ok(error.message.length > 0, "the error has a message");
  return result;
}

/**
 * What a later execution reports about the state an attack may have left: every line must read clean.
 * Prototype additions, replaced intrinsics, globals, and a tool call that still reaches the host as sent.
 */
export const PROBE = `const leaks = [];
const plain = {};
for (const key of ["polluted", "isAdmin", "toJSON", "then", "leftBehind"]) {
  if (plain[key] !== undefined || [][key] !== undefined || ""[key] !== undefined) leaks.push("proto:" + key);
}
for (const name of ["leftBehind", "process", "require"]) if (name in globalThis) leaks.push("global:" + name);
if (JSON.stringify({ a: [1, "x"] }) !== '{"a":[1,"x"]}') leaks.push("JSON.stringify");
if (JSON.parse("[1]")[0] !== 1) leaks.push("JSON.parse");
for (const [name, fn] of [["then", Promise.prototype.then], ["push", Array.prototype.push], ["keys", Object.keys]]) {
  if (!/\\[native code\\]/.test(Function.prototype.toString.call(fn))) leaks.push("replaced:" + name);
}
const echoed = await tools.echo({ probe: [1, 2] });
if (JSON.stringify(echoed) !== '{"probe":[1,2]}') leaks.push("echo:" + JSON.stringify(echoed));
console.log("clean", leaks.length === 0 ? "yes" : leaks.join(","));`;

/**
 * After an attack: a JavaScript execution in the attack's container (when it had one) and two one-off
 * ones (served by the pool's recycled sandboxes, which other keys' executions also get) see nothing of it.
 */
export async function assertNothingLeftBehind(harness: Harness, container?: string): Promise<void> {
  const runs = [
    ...(container ? [runJs(harness, { code: PROBE, container })] : []),
    runJs(harness, { code: PROBE }),
    runJs(harness, { code: PROBE }),
  ];
  for (const result of await Promise.all(runs)) {
    assertCompletedJs(result);
    assert.equal(result.stdout, "clean yes\n");
  }
}

/** One guarded step: BLOCKED when its body throws, ESCAPED (with what it got) when it returns. */
export function step(label: string, body: string): string {
  return [
    "try {",
    `  const _r = await (async () => {\n${body}\n  })();`,
    `  console.log("ESCAPED ${label}", String(_r).slice(0, 200));`,
    "} catch (_e) {",
    `  console.log("BLOCKED ${label}", _e === null || typeof _e !== "object" ? typeof _e : String(_e.name));`,
    "}",
  ].join("\n");
}

/** Every step ran and was blocked. */
export function assertAllBlocked(result: ExecutionResult, labels: readonly string[]): void {
  assertCompletedJs(result);
  for (const label of labels) assert.match(result.stdout, new RegExp(`^BLOCKED ${label} `, "m"), result.stdout);
  assert.doesNotMatch(result.stdout, /ESCAPED/, result.stdout);
}
