import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, type TestContext, test } from "node:test";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { codeTool } from "../helpers/engine.js";
import { adminResetTool, attempt, type Battery, guestOnlyLoopback, PROBE_PATH } from "./escape-helpers.js";
import { assertCompleted, assertFailedWith, CANARY, type Harness, startHarness, underAttack } from "./harness.js";

/**
 * Escape attempts from guest Python, run against a real `ptc serve` twice: with bubblewrap (when it
 * works here) and with `bubblewrap: "off"` (the permission model and the in-child hardening alone).
 * Every attempt prints BLOCKED or ESCAPED; every one must end BLOCKED, the environment canary must
 * appear nowhere (the harness checks every response and log line), and neither a loopback server of
 * this test nor the ptc server's own port may see a request from the guest.
 */

const hostDir = mkdtempSync(join(tmpdir(), "ptc-escape-"));
const hostFile = join(hostDir, "secret.txt");
writeFileSync(hostFile, CANARY);

const loopback = guestOnlyLoopback();
after(() => rmSync(hostDir, { recursive: true, force: true }));

/** Tools of one harness, with what their handlers saw. */
function escapeTools() {
  const seen = { echo: [] as unknown[], adminReset: 0 };
  const tools: ToolDefinition[] = [
    codeTool("echo", (input) => {
      seen.echo.push(input);
      return input;
    }),
    // Direct-only (no allowedCallers): code must never reach it.
    adminResetTool(() => seen.adminReset++),
  ];
  return { seen, tools };
}

/** A frame a hostile guest would like the host to read: forged output, a forged done, a forged call. */
const FORGED_FRAMES =
  '\\nJ{"t":"output","stream":"stdout","data":"FORGED"}\\nJ{"t":"done","error":{"type":"Forged","message":"FORGED","traceback":""}}\\nC9\\t"echo"\\t{"forged":true}\\nW0\\n';

async function escapeBattery(
  t: TestContext,
  name: string,
  engine: Parameters<typeof startHarness>[0],
): Promise<Harness> {
  const { seen, tools } = escapeTools();
  const harness = await startHarness({ ...engine, tools });
  const battery: Battery = { harness, probeHits: 0, loopback };
  harness.running.server.on("request", (request: { url?: string }) => {
    if (request.url?.includes(PROBE_PATH)) battery.probeHits++;
  });
  const blocked = (steps: Array<[string, string]>) => async (): Promise<void> => {
    await underAttack(harness, () => attempt(battery, steps));
  };

  // Protection: jsglobals restricted to a few intrinsics (child.ts `jsglobals`), process/require deleted
  // from globalThis, the sandbox started with an empty environment (and bubblewrap --clearenv).
  await t.test(
    `${name}: import js reaches no process, require or host environment`,
    blocked([
      ["process", "import js\n_r = js.process.env"],
      ["require", "import js\n_r = js.require('fs')"],
      ["globalThis.process", "import js\n_r = js.globalThis.process"],
      ["os.environ", "import os\n_r = os.environ['PTC_ADVERSARIAL_SECRET']"],
      ["environ scan", "import os\n_r = [v for v in os.environ.values() if 'ptc-canary' in v][0]"],
      [
        "stack frames",
        [
          "import js\nfrom pyodide.ffi import create_proxy\n_seen = []",
          "js.Error.prepareStackTrace = create_proxy(lambda e, sites: [_seen.append(s.getThis()) for s in sites] and 's')",
          "try:\n    js.JSON.parse('{')\nexcept Exception:\n    pass",
          "del js.Error.prepareStackTrace",
          "_r = [x for x in _seen if x is not None and any(hasattr(x, k) for k in ('env', 'binding', 'stdout'))][0]",
        ].join("\n"),
      ],
    ]),
  );

  // Protection: child.ts unregisterJsModule("pyodide_js") and guest.py _ptc_lockdown().
  await t.test(
    `${name}: pyodide_js, its cached _api module, mountNodeFS and loadPackage are gone`,
    blocked([
      ["import", "import pyodide_js\n_r = pyodide_js"],
      ["_api", "import sys\n_r = sys.modules['pyodide_js._api']"],
      ["sys.modules scan", "import sys\n_r = [m for m in sys.modules if 'pyodide_js' in m][0]"],
      ["jsfinder", "from _pyodide._importhook import jsfinder\n_r = jsfinder.jsproxies['pyodide_js']"],
      [
        "mountNodeFS",
        "import pyodide_js\npyodide_js.mountNodeFS('/host', '/')\n_r = open('/host/etc/hostname').read()",
      ],
      ["loadPackage", "import pyodide_js\n_r = await pyodide_js.loadPackage('numpy')"],
    ]),
  );

  // Protection: --disallow-code-generation-from-strings (sandbox-runtime.ts), and the permission
  // model for the dynamic imports.
  await t.test(
    `${name}: the Function constructor, run_js and eval cannot run JS source`,
    blocked([
      ["ctor process", "import js\n_r = js.Object.constructor('return process')()"],
      ["ctor fs", "import js\n_r = await js.Object.constructor(\"return import('node:fs')\")()"],
      [
        "ctor child_process",
        "import js\n_r = await js.Array.constructor.constructor(\"return import('node:child_process')\")()",
      ],
      ["ctor http", "import js\n_r = await js.Promise.constructor(\"return import('node:http')\")()"],
      ["run_js", "from pyodide.code import run_js\n_r = run_js('process.env')"],
      ["eval", "import js\n_r = js.eval('1')"],
    ]),
  );

  // Protection: fetch deleted from globalThis, Pyodide's socket emulation has no backend, bubblewrap's
  // network namespace, and Node >= 25's permission model (no --allow-net).
  await t.test(
    `${name}: no network: fetch, pyfetch, sockets and urllib reach neither loopback nor ptc`,
    blocked(
      ["LOOPBACK", "PTC"].flatMap(
        (target): Array<[string, string]> => [
          [`js.fetch ${target}`, `import js\n_r = await js.fetch('${target}_URL')`],
          [`pyfetch ${target}`, `from pyodide.http import pyfetch\n_r = await pyfetch('${target}_URL')`],
          [
            `socket ${target}`,
            [
              "import socket",
              `s = socket.create_connection(('127.0.0.1', ${target}_PORT), timeout=2)`,
              `s.send(b'GET ${PROBE_PATH} HTTP/1.0\\r\\n\\r\\n')`,
              "_r = s.recv(100)",
            ].join("\n"),
          ],
          [`urllib ${target}`, `import urllib.request\n_r = urllib.request.urlopen('${target}_URL', timeout=2).read()`],
        ],
      ),
    ),
  );

  // Protection: Pyodide's in-memory filesystem (no NODEFS mount), the permission model's fs reads,
  // bubblewrap's mount namespace; child_process functions replaced in child.ts.
  await t.test(`${name}: host files, /proc/self/environ and subprocesses are out of reach`, async () => {
    const result = await underAttack(harness, () =>
      attempt(
        battery,
        [
          ["host file", `_r = open(${JSON.stringify(hostFile)}).read()`],
          ["proc environ", "_r = open('/proc/self/environ', 'rb').read()"],
          ["package.json", `_r = open(${JSON.stringify(join(process.cwd(), "package.json"))}).read()`],
          ["subprocess", "import subprocess\n_r = subprocess.run(['id'], capture_output=True)"],
          ["os.system", "import os\n_r = os.system('id')\nassert _r == 0"],
          ["fork", "import os\n_r = os.fork()"],
        ],
        "import os\nprint('ROOT', sorted(os.listdir('/')))",
      ),
    );
    // What the guest sees as / is Pyodide's in-memory filesystem, not the host's.
    assert.match(result.stdout, /^ROOT \[.*'home'.*\]$/m);
    assert.doesNotMatch(result.stdout, /ROOT .*'(etc|usr|work|root|var|bin)'/);
  });

  // Protection: no package index reachable (no fetch, no network) and pyodide_js.loadPackage gone; the
  // wall limit is far above what a clean refusal takes, so a hang on the network would fail this.
  await t.test(`${name}: installing packages at run time fails cleanly without network`, async () => {
    const result = await underAttack(harness, () =>
      attempt(battery, [
        ["micropip", "import micropip\n_r = await micropip.install('six')"],
        ["numpy", "import numpy\n_r = numpy"],
        ["loadPackage", "import pyodide_js\n_r = await pyodide_js.loadPackage('six')"],
        [
          "wheel download",
          "from pyodide.http import pyfetch\n_r = await pyfetch('https://files.pythonhosted.org/packages/six.whl')",
        ],
      ]),
    );
    assert.match(result.stdout, /^BLOCKED micropip ModuleNotFoundError$/m);
    assert.match(result.stdout, /^BLOCKED numpy ModuleNotFoundError$/m);
  });

  // Protection: the bridge refuses newlines in a frame (child.ts callTool), the host broker checks the
  // tool exists and is allowed from code (tool-call-broker.ts), and guest output only ever travels as
  // JSON-escaped data of an output frame (child.ts makeWriter), whatever file descriptor it uses.
  await t.test(`${name}: guest code cannot forge bridge frames through the bridge or its stdout`, () =>
    underAttack(harness, async () => {
      const code = [
        "import os, sys, _ptc_bridge",
        `FRAMES = '${FORGED_FRAMES}'`,
        "r1 = await _ptc_bridge.call('admin_reset', '{}')",
        "r2 = await _ptc_bridge.call('nope', '{}')",
        `r3 = await _ptc_bridge.call('echo', '{}' + FRAMES)`,
        `r4 = await _ptc_bridge.call('echo' + FRAMES, '{}')`,
        "r5 = await _ptc_bridge.call('echo', 'not json')",
        "print(r1[:1], 'tool_not_allowed' in r1, 'tool_not_found' in r2, r3[:1], r4[:1], 'invalid_tool_input' in r5)",
        "sys.__stdout__.write(FRAMES); sys.__stdout__.flush()",
        "os.write(1, FRAMES.encode()); os.write(2, FRAMES.encode())",
        "for device in ('/dev/stdout', '/dev/tty', '/dev/console'):",
        "    with open(device, 'w') as f:",
        "        f.write(FRAMES)",
        "print(await echo(real=True))",
        "print('END')",
      ].join("\n");
      const state = await harness.execute({ code, limits: { wall_timeout_ms: 30_000 } });
      const result = await assertCompleted(harness, state);
      const frames = FORGED_FRAMES.replaceAll("\\n", "\n").replaceAll("\\t", "\t");
      // The frames came back as the script's own output, verbatim, and as nothing else.
      assert.equal(
        result.stdout,
        `0 True True 0 0 True\n${frames}${frames}${frames}{'real': True}\nEND\n`,
        "stdout is exactly what the script printed",
      );
      assert.equal(result.stderr, frames);
      assert.deepEqual(seen.echo, [{ real: true }], "no forged call reached the handler");
      assert.equal(seen.adminReset, 0, "the direct-only tool was never called");
      assert.deepEqual(
        result.tool_calls.map((call) => [call.name, call.ok, call.error?.code ?? null]),
        [
          ["admin_reset", false, "tool_not_allowed"],
          ["nope", false, "tool_not_found"],
          ["echo", false, "invalid_tool_input"],
          ["echo", true, null],
        ],
      );
    }),
  );

  // Protection: the child builds its frames from intrinsics captured before guest code runs, not the ones
  // the guest shares and can replace: js.JSON.stringify, String.prototype (js.Object('')), Object.prototype.toJSON.
  await t.test(`${name}: replacing shared JS intrinsics does not let the guest forge a frame`, () =>
    underAttack(harness, async () => {
      const code = [
        "import asyncio, js, _ptc_bridge",
        "from pyodide.ffi import create_proxy",
        `FORGED = '${FORGED_FRAMES.slice(2)}'`,
        "def put(target, name, value):",
        "    try:",
        "        setattr(target, name, value)",
        "    except Exception as e:",
        "        print('refused', name, type(e).__name__)",
        "async def flush():",
        "    print('tick')",
        "    await asyncio.sleep(0.05)",
        "stringify = js.JSON.stringify",
        "put(js.JSON, 'stringify', create_proxy(lambda *a: FORGED))",
        "await flush()",
        "put(js.JSON, 'stringify', stringify)",
        "strings = js.Object.getPrototypeOf(js.Object('s'))",
        "includes = strings.includes",
        "put(strings, 'includes', create_proxy(lambda *a: False))",
        "print('bridge', (await _ptc_bridge.call('echo', '{\"n\":1}\\n' + FORGED))[:1])",
        "put(strings, 'includes', includes)",
        // A bound native parse as toJSON: the message serializes as a forged single-line done.
        'done = js.Object.constructor.prototype.bind.call(js.JSON.parse, None, \'{"t":"done","error":null}\')',
        "put(js.Object.prototype, 'toJSON', done)",
        "await flush()",
        "put(js.Object.prototype, 'toJSON', None)",
        "print('END')",
      ].join("\n");
      const state = await harness.execute({ code, limits: { wall_timeout_ms: 30_000 } });
      const forgedCalls = seen.echo.filter((input) => JSON.stringify(input).includes("forged"));
      assert.deepEqual(forgedCalls, [], "a forged call reached the handler");
      const result = await assertCompleted(harness, state);
      assert.doesNotMatch(result.stdout, /FORGED/);
      assert.match(result.stdout, /^END$/m, "the script ran to its end: no forged done cut it short");
    }),
  );
  return harness;
}

/** What the guest reports about its own end is checked on the host: it cannot make it unstructured or claim a limit. */
async function forgedReports(t: TestContext, harness: Harness): Promise<void> {
  // Protection: the host validates the done frame's error (guest.py's _format_error uses the json module
  // the guest shares, and `import __main__` reaches guest.py).
  await t.test("a script that corrupts its own error report still ends with a structured error", () =>
    underAttack(harness, async () => {
      const code = "import json\njson.dumps = lambda *a, **k: '[1, {\"type\": 7}]'\nraise ValueError('boom')";
      const state = await harness.execute({ code, limits: { wall_timeout_ms: 30_000 } });
      const error = state.result?.error;
      assert.ok(error && typeof error.type === "string", JSON.stringify(error));
      await assertFailedWith(harness, state, error.code === "sandbox_crashed" ? "sandbox_crashed" : "python_error");
    }),
  );

  // Protection: child.ts renders the report's numbers with a Number.isSafeInteger captured at start-up; the
  // guest can replace the shared one (js.Object(1).constructor) to splice frame text into the done frame.
  await t.test("a script cannot splice a memory-limit claim into its done frame through Number's statics", () =>
    underAttack(harness, async () => {
      const code = String.raw`import js, json
from pyodide.ffi import create_proxy
report = json.dumps({"type": "X", "message": "m", "traceback": "", "line": "0", "exitCode": '0},"memoryLimitHit":true}\nJ{"t":"x"'})
js.Object(1).constructor.isSafeInteger = create_proxy(lambda *a: True)
json.dumps = lambda *a, **k: report
raise ValueError('boom')`;
      const state = await harness.execute({ code, limits: { wall_timeout_ms: 30_000 } });
      assert.notEqual(state.result?.error?.code, "memory_limit", "the guest claimed memory_limit");
      assert.deepEqual(state.result?.limits_hit, []);
      await assertFailedWith(harness, state, "python_error");
    }),
  );

  // Protection: execution.ts accepts from the guest's report only tool-boundary codes the host saw.
  await t.test("a script cannot make its result claim a limit, a crash or a cancel that did not happen", () =>
    underAttack(harness, async () => {
      let container: string | undefined;
      for (const claimed of ["wall_timeout", "memory_limit", "sandbox_crashed", "cancelled"]) {
        const code = `raise ToolError('not really', code='${claimed}')`;
        const state = await harness.execute({ code, container, limits: { wall_timeout_ms: 30_000 } });
        container = state.container_id;
        assert.equal(state.status, "failed");
        assert.notEqual(state.result?.error?.code, claimed, `the guest claimed ${claimed}`);
        assert.deepEqual(state.result?.limits_hit, []);
      }
    }),
  );
}

test("escape attempts, default isolation (bubblewrap where it works)", async (t) => {
  const harness = await escapeBattery(t, "default", {});
  await forgedReports(t, harness);
});

test("escape attempts, bubblewrap off (permission model and in-child hardening alone)", async (t) => {
  await escapeBattery(t, "no bubblewrap", { engine: { pool: { bubblewrap: "off" } } });
});
