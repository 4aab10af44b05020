import assert from "node:assert/strict";
import { test } from "node:test";
import { assertCompleted, assertFailedWith, type Harness, startHarness, underAttack } from "./harness.js";

/**
 * Small leaks of the host's shape into the guest (and so into the model's context): the install path
 * through the environment and through JS stack traces, and the CallSite objects a guest-installed
 * Error.prepareStackTrace would receive (their getThis() reached the interpreter's WebAssembly instance).
 */

const harness: Harness = await startHarness();
const checkout = process.cwd();

test("the guest's environment names no host path", async () => {
  // Protection: the child sets `_` (Emscripten's default is the program's own path) in loadPyodide's env.
  await underAttack(harness, async () => {
    const state = await harness.execute({ code: "import os\nprint(dict(os.environ))" });
    const result = await assertCompleted(harness, state);
    assert.ok(!result.stdout.includes(checkout), result.stdout);
    assert.doesNotMatch(result.stdout, /node_modules|child\.(ts|js)|\/work\/|\/home\/(?!pyodide)/);
  });
});

test("JS stack traces the guest can read carry no host path, in errors it catches and in errors it builds", async () => {
  // Protection: Error.prepareStackTrace fixed by the child before any guest code runs (child.ts).
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "import js",
        "from pyodide.ffi import to_js",
        "stacks = []",
        "try:",
        "    js.JSON.parse('{bad')",
        "except Exception as error:",
        "    stacks.append(str(error.js_error.stack))",
        "stacks.append(str(js.Error.new('built').stack))",
        "try:",
        "    to_js(b'x').constructor.new(-1)",
        "except Exception as error:",
        "    stacks.append(str(error.js_error.stack))",
        "holder = js.Object.new()",
        "js.Error.captureStackTrace(holder)",
        "stacks.append(str(holder.stack))",
        "print('\\n---\\n'.join(stacks))",
      ].join("\n"),
    });
    const result = await assertCompleted(harness, state);
    assert.match(result.stdout, /SyntaxError/);
    assert.ok(!result.stdout.includes(checkout), result.stdout);
    assert.doesNotMatch(result.stdout, /file:\/\/|node:internal|\.m?js:\d+|node_modules/);
  });
});

test("a guest cannot install Error.prepareStackTrace: CallSite objects (and getThis) stay out of reach", async () => {
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "import js",
        "from pyodide.ffi import create_proxy",
        "seen = []",
        "def prepare(error, frames):",
        "    for frame in frames:",
        "        seen.append(frame.getThis())",
        "    return 'owned'",
        "try:",
        "    js.Error.prepareStackTrace = create_proxy(prepare)",
        "    print('assigned')",
        "except Exception as error:",
        "    print('refused', type(error).__name__)",
        "try:",
        "    js.Object.defineProperty(js.Error, 'prepareStackTrace', js.Object.fromEntries([['value', create_proxy(prepare)]]))",
        "    print('redefined')",
        "except Exception as error:",
        "    print('refused', type(error).__name__)",
        "stack = str(js.Error.new('x').stack)",
        "print(stack.split(chr(10))[0], len(seen))",
      ].join("\n"),
    });
    const result = await assertCompleted(harness, state);
    assert.equal(result.stdout, "refused JsException\nrefused JsException\nError: x 0\n");
  });
});

test("a traceback shows the script's Python frames and nothing of ptc's machinery", async () => {
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: [
        "import asyncio",
        "async def main():",
        "    await asyncio.sleep(0.01)",
        "    raise ValueError('from main')",
        "asyncio.run(main())",
      ].join("\n"),
    });
    const result = await assertFailedWith(harness, state, "python_error");
    const traceback = result.error?.traceback ?? "";
    assert.deepEqual(
      [...traceback.matchAll(/File "([^"]+)"/g)].map((match) => match[1]),
      ["script.py", "script.py"],
      traceback,
    );
    assert.doesNotMatch(traceback, /node:|file:|\.js"/);
  });
});
