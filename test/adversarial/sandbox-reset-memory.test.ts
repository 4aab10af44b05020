import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_MEMORY_BYTES } from "../../src/protocol/limits.js";
import { runPython, sandboxStarter } from "../helpers/sandbox-runs.js";

/**
 * A reset hands the next interpreter the last one's wasm memory when that interpreter is gone and its memory
 * did not grow (child-wasm-memory.ts): zeroed, then restored from the snapshot. Execution 1 leaves its bytes
 * all over that memory, and things of its own to be finalized after it; execution 2, in the same memory,
 * reads every byte of it through ctypes and finds none of them, and its interpreter is intact.
 */

/** Pyodide's initial memory, the snapshot's size: 480 wasm pages. */
const MEMORY_AT_START = 480 * 65_536;
// As runPython runs scripts: the default memory cap.
const startSandbox = await sandboxStarter(DEFAULT_MEMORY_BYTES);

// Built at run time, so that no script's own text holds it: ~1 MB of it in several objects.
const LEAVE_BYTES = `
mark = ("PTC" + "-left-by-execution-1-").encode()
blob = mark * 40_000  # 960,000 bytes
kept = [blob, bytearray(blob), blob.decode(), [blob[i:i + 4096] for i in range(0, 200_000, 4096)]]
print(len(blob))
`;
// Every byte of the memory's first 30 MiB, read through ctypes, a MiB at a time. The needle is made here, so it
// is in memory once (and in any chunk read that holds it): a handful at most, against ~100,000 left by the first.
const COUNT_BYTES = `
import ctypes
needle = bytes(reversed(b"-1-noitucexe-yb-tfel-CTP"))
found = 0
for at in range(16, ${MEMORY_AT_START}, 1 << 20):
    found += ctypes.string_at(at, min(1 << 20, ${MEMORY_AT_START} - at)).count(needle)
print(found)
`;
// The interpreter at work: a dict, a sort, a sum, strings, an exception.
const WORK = `
import json
data = {str(i): [i, i * 2.5, str(i) * 3] for i in range(3000)}
ordered = sorted(data.values(), key=lambda row: -row[0])
try:
    raise ValueError(sum(row[1] for row in ordered))
except ValueError as error:
    total = error.args[0]
print(json.dumps([len(data), ordered[0][2], total]))
`;
const WORK_OUTPUT = '[3000, "299929992999", 11246250.0]\n';

test("a reset that keeps the wasm memory leaves none of the last interpreter's bytes in it", async () => {
  const sandbox = await startSandbox();
  assert.equal(await runPython(sandbox, LEAVE_BYTES), "960000\n");
  assert.ok(Number(await runPython(sandbox, COUNT_BYTES)) > 100_000, "the probe finds the bytes where they are");

  await sandbox.reset();
  assert.equal(sandbox.resetsKeepingMemory, 1, "the next interpreter got the same memory");
  assert.ok(Number(await runPython(sandbox, COUNT_BYTES)) < 20);
  assert.equal(await runPython(sandbox, WORK), WORK_OUTPUT);

  await sandbox.reset();
  assert.equal(sandbox.resetsKeepingMemory, 2);
  assert.ok(Number(await runPython(sandbox, COUNT_BYTES)) < 20);
  assert.equal(await runPython(sandbox, "print('kept' in globals(), 'blob' in globals())"), "False False\n");
});

test("what the last interpreter left to be finalized or scheduled never runs against the next one", async () => {
  const sandbox = await startSandbox();
  for (let round = 0; round < 4; round++) {
    // Proxies of its objects held only by JS (each a finalizer that decrements a reference count in its
    // memory), tasks and timers pending, and then the reset: any of them run against the next interpreter's
    // memory would corrupt it.
    await runPython(
      sandbox,
      `
import asyncio, js
from pyodide.ffi import create_proxy
kept = {"round": ${round}, "rows": [str(i) for i in range(2000)]}
held = js.Array.new()
for i in range(3000):
    held.push(create_proxy(kept))
held = None
js.setTimeout(create_proxy(lambda: kept["rows"].clear()), 1)
async def later():
    await asyncio.sleep(0.001)
    kept.clear()
task = asyncio.ensure_future(later())
print("left")
`,
    );
    await sandbox.reset();
    for (let again = 0; again < 3; again++) assert.equal(await runPython(sandbox, WORK), WORK_OUTPUT);
    assert.equal(await runPython(sandbox, "print('kept' in globals())"), "False\n");
  }
  assert.equal(sandbox.resets, 4);
});

test("a memory that grew is not kept: the next interpreter gets a new one", async () => {
  const sandbox = await startSandbox();
  await runPython(sandbox, "big = bytearray(64 * 2**20)\nprint(len(big))");
  await sandbox.reset();
  assert.equal(sandbox.resetsKeepingMemory, 0);
  assert.equal(await runPython(sandbox, WORK), WORK_OUTPUT);
  // Not grown in this one: the next reset keeps it.
  await sandbox.reset();
  assert.equal(sandbox.resetsKeepingMemory, 1);
  assert.equal(await runPython(sandbox, WORK), WORK_OUTPUT);
});
