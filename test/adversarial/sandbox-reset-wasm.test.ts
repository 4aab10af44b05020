import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ensureMemorySnapshot } from "../../src/sandbox/memory-snapshot.js";
import { SandboxProcess } from "../../src/sandbox/sandbox-process.js";
import { resolveSandboxRuntime } from "../../src/sandbox/sandbox-runtime.js";

/**
 * A reset builds the next interpreter from the compiled module the sandbox keeps (child-wasm-module.ts), with
 * WebAssembly's `instantiate` swapped for one that uses it only while the build runs. No script may reach the
 * WebAssembly namespace to plant something the build would call, and the interpreter built from the kept
 * module keeps nothing of the script before.
 */

const runtime = resolveSandboxRuntime();
const snapshot = await ensureMemorySnapshot(runtime);
const MEMORY = 256 * 1024 * 1024;
const sandbox = new SandboxProcess(runtime, MEMORY, snapshot);
after(async () => {
  sandbox.kill();
  await sandbox.closed;
});

async function run(code: string): Promise<string> {
  let stdout = "";
  const outcome = await sandbox.run(
    { code, tools: [], resultMode: "json", maxOutputBytes: 1_000_000, memoryBytes: MEMORY },
    {
      onToolCall: () => {},
      onOutput: (stream, text) => {
        if (stream === "stdout") stdout += text;
      },
    },
  );
  assert.equal(outcome.kind, "done", JSON.stringify(outcome));
  if (outcome.kind === "done") assert.equal(outcome.error, null, JSON.stringify(outcome.error));
  return stdout;
}

// Each route a script might take to WebAssembly, the namespace a reset's build uses.
const ROUTES = `
import js, sys
def routes():
    yield lambda: js.WebAssembly
    yield lambda: __import__("js").WebAssembly
    yield lambda: __import__("pyodide_js")._module.WebAssembly
    yield lambda: js.globalThis.WebAssembly
    yield lambda: js.Object.constructor("return WebAssembly")()
    yield lambda: js.Error.constructor("return WebAssembly")()
reached = []
for index, route in enumerate(routes()):
    try:
        reached.append((index, route()))
    except Exception:
        pass
`;

const INSPECT = `${ROUTES}
import json
print(json.dumps({"reached": [index for index, _ in reached], "secret": "SECRET" in globals() or "secret" in sys.modules}))
`;

test("no script reaches the WebAssembly a reset builds from, and a reset keeps nothing of the script", async () => {
  await sandbox.ready;
  const reference = await run(INSPECT);
  assert.deepEqual(JSON.parse(reference), { reached: [], secret: false });

  // Had a route worked, the script would have swapped the build's functions for a spy.
  const attacked = await run(`${ROUTES}
from pyodide.ffi import create_proxy
SECRET = "execution 1's data"
sys.modules["secret"] = type(sys)("secret")
def spy(*args):
    raise RuntimeError("the build called the guest")
for _, wasm in reached:
    for name in ["instantiate", "compile", "Module", "Instance", "Memory"]:
        setattr(wasm, name, create_proxy(spy))
print(len(reached))
`);
  assert.equal(attacked.trim(), "0");

  await sandbox.reset();
  assert.equal(await run(INSPECT), reference);
  await sandbox.reset();
  assert.equal(await run(INSPECT), reference, "and again, from the same kept module");
});
