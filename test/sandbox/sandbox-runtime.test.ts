import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import { sandboxNodeInstallable } from "../../src/sandbox/sandbox-node.js";
import {
  checkSandboxIsolation,
  degradedIsolation,
  degradedIsolationWarning,
  resolveSandboxRuntime,
} from "../../src/sandbox/sandbox-runtime.js";

// Without `ptc setup`, sandboxes would run on the host's Node 20. PTC_SANDBOX_NODE pointing at it stands in
// for that here (this file runs in a process of its own, so nothing resolved the runtime before), and a
// fresh PTC_CACHE_DIR keeps the real cache out of it. No sandbox starts here: from a checkout the child is
// TypeScript, which Node 20 cannot run; test/cli/degraded-isolation.test.ts runs them through dist/.
const cache = mkdtempSync(join(tmpdir(), "ptc-degraded-"));
process.env.PTC_CACHE_DIR = cache;
process.env.PTC_SANDBOX_NODE = process.execPath;
const hostMajor = Number(process.versions.node.split(".")[0]);
const degradedHere = hostMajor < 25 && sandboxNodeInstallable();

const engines: Engine[] = [];
after(async () => {
  await Promise.all(engines.map((engine) => engine.close()));
  rmSync(cache, { recursive: true, force: true });
});

/** Calls `body` with process.stderr.write recording instead of writing; returns what it wrote. */
function captureStderr(body: () => void): string {
  const original = process.stderr.write;
  let written = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof process.stderr.write;
  try {
    body();
  } finally {
    process.stderr.write = original;
  }
  return written;
}

describe("a sandbox runtime weaker than `ptc setup`'s (the host's Node 20)", { skip: !degradedHere }, () => {
  test("createEngine refuses it with isolation_degraded, naming `npx ptc setup` and the opt-in", () => {
    let thrown: unknown;
    const written = captureStderr(() => {
      try {
        engines.push(createEngine({ pool: { size: 0, snapshot: false } }));
      } catch (error) {
        thrown = error;
      }
    });
    assert.ok(PtcError.is(thrown, ErrorCode.IsolationDegraded), `expected isolation_degraded, got ${String(thrown)}`);
    assert.equal(thrown.code, "isolation_degraded");
    assert.match(thrown.message, /Node v20\.[\d.]+/);
    assert.match(thrown.message, /permission model that covers the network/);
    assert.match(thrown.message, /asyncio\.run\(\)/);
    assert.match(thrown.message, /`npx ptc setup`/);
    assert.match(thrown.message, /--allow-degraded-isolation/);
    assert.match(thrown.message, /allowDegradedIsolation/);
    assert.doesNotMatch(thrown.message, /\n/);
    assert.equal(written, "", "a refusal is the error itself, not also a warning");
  });

  test("pool.allowDegradedIsolation accepts it, with one warning per process naming `npx ptc setup`", () => {
    let first: Engine | undefined;
    const written = captureStderr(() => {
      first = createEngine({ pool: { size: 0, snapshot: false, allowDegradedIsolation: true } });
      engines.push(first);
      engines.push(createEngine({ pool: { size: 0, snapshot: false, allowDegradedIsolation: true } }));
    });
    assert.ok(first);
    const lines = written.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, written);
    assert.match(lines[0] ?? "", /^ptc: warning: weaker isolation: .*Node v20.*`npx ptc setup`/);
    assert.equal(first.isolation.stackSwitching, false);
    assert.ok(first.isolation.notes.some((note) => note.includes("`npx ptc setup`")));
  });

  test("where `ptc setup` has no runtime to install (macOS today) it runs, warning once, and says what to do", () => {
    const runtime = resolveSandboxRuntime();
    const degraded = degradedIsolation(runtime);
    assert.ok(degraded);
    // The warning was printed once already in this process (above): not again, and no refusal.
    const written = captureStderr(() => checkSandboxIsolation(runtime, false, false));
    assert.equal(written, "");
    const warning = degradedIsolationWarning(degraded, false);
    assert.match(warning, /^ptc: warning: weaker isolation: sandboxes run on PTC_SANDBOX_NODE's Node v20/);
    assert.match(warning, /`npx ptc setup` has no sandbox runtime for \S+ yet: set PTC_SANDBOX_NODE to a Node >= 25/);
  });
});
