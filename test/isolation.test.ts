import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { codeTool, testEngine } from "./helpers/engine.js";

// A secret in the host's environment and a file on the host's disk: neither may reach guest code.
const CANARY = `ptc-canary-${process.pid}-${Date.now()}`;
process.env.PTC_TEST_SECRET = CANARY;
const hostDir = mkdtempSync(join(tmpdir(), "ptc-isolation-"));
const hostFile = join(hostDir, "secret.txt");
writeFileSync(hostFile, CANARY);

const engine = testEngine();
let server: Server;
let port = 0;
let hits = 0;

before(async () => {
  server = createServer((_request, response) => {
    hits++;
    response.end(CANARY);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  await engine.close();
  server.close();
});

/**
 * Runs an attempt; the script prints BLOCKED or ESCAPED per step. Every attempt must end blocked,
 * the canary must not appear anywhere in the output, and the host server must see no request.
 */
async function attempt(name: string, code: string): Promise<string> {
  const hitsBefore = hits;
  const result = await engine.execute({
    code: code.replaceAll("PORT", String(port)),
    limits: { wallTimeoutMs: 20_000 },
  }).result;
  const output = `${result.stdout}${result.stderr}${JSON.stringify(result.error)}`;
  assert.doesNotMatch(output, new RegExp(CANARY), `${name}: canary leaked`);
  assert.doesNotMatch(result.stdout, /ESCAPED/, `${name}: ${result.stdout}`);
  assert.match(result.stdout, /BLOCKED/, `${name}: no step reported BLOCKED: ${output}`);
  assert.equal(hits, hitsBefore, `${name}: the host server was reached`);
  return result.stdout;
}

const TRY = (label: string, body: string) =>
  [
    "try:",
    ...body.split("\n").map((line) => `    ${line}`),
    `    print("ESCAPED ${label}", repr(_r)[:200])`,
    "except BaseException as _e:",
    `    print("BLOCKED ${label}", type(_e).__name__)`,
  ].join("\n");

describe("isolation: escape attempts from guest code fail", () => {
  test("import js: no process, require or host environment", async () => {
    await attempt(
      "js",
      [
        "import js",
        TRY("process", "_r = js.process.env"),
        TRY("require", "_r = js.require('fs')"),
        TRY("globalThis.process", "_r = js.globalThis.process"),
        TRY("os.environ", "import os\n_r = os.environ['PTC_TEST_SECRET']"),
      ].join("\n"),
    );
  });

  test("pyodide_js, its cached _api module, mountNodeFS", async () => {
    await attempt(
      "pyodide_js",
      [
        TRY("import", "import pyodide_js\n_r = pyodide_js"),
        TRY("_api", "import sys\n_r = sys.modules['pyodide_js._api']"),
        TRY(
          "mountNodeFS",
          "import pyodide_js\npyodide_js.mountNodeFS('/host', '/')\n_r = open('/host/etc/hostname').read()",
        ),
        TRY("sys.modules scan", "import sys\n_r = [m for m in sys.modules if 'pyodide_js' in m][0]"),
      ].join("\n"),
    );
  });

  test("Function constructor and run_js to fs, child_process and node:http", async () => {
    await attempt(
      "function",
      [
        "import js",
        TRY("ctor", "_r = js.Object.constructor('return process')()"),
        TRY("ctor import fs", "_r = js.Object.constructor(\"return import('node:fs')\")()"),
        TRY("ctor child_process", "_r = js.Array.constructor.constructor(\"return import('node:child_process')\")()"),
        TRY("ctor http", "_r = js.Promise.constructor(\"return import('node:http')\")()"),
        TRY("run_js", "from pyodide.code import run_js\n_r = run_js('process.env')"),
        TRY("eval", "import js\n_r = js.eval('1')"),
      ].join("\n"),
    );
  });

  test("network: js.fetch, pyfetch, raw sockets, urllib to the host's loopback server", async () => {
    await attempt(
      "network",
      [
        "import js",
        TRY("js.fetch", "_r = await js.fetch('http://127.0.0.1:PORT/')"),
        TRY("pyfetch", "from pyodide.http import pyfetch\n_r = await pyfetch('http://127.0.0.1:PORT/')"),
        TRY(
          "socket",
          "import socket\ns = socket.create_connection(('127.0.0.1', PORT), timeout=2)\ns.send(b'GET / HTTP/1.0\\r\\n\\r\\n')\n_r = s.recv(100)",
        ),
        TRY("urllib", "import urllib.request\n_r = urllib.request.urlopen('http://127.0.0.1:PORT/', timeout=2).read()"),
      ].join("\n"),
    );
  });

  test("host filesystem, subprocesses and package installs", async () => {
    const stdout = await attempt(
      "fs",
      [
        TRY("open host file", `_r = open(${JSON.stringify(hostFile)}).read()`),
        TRY("proc environ", "_r = open('/proc/self/environ', 'rb').read()"),
        TRY("host package.json", `_r = open(${JSON.stringify(join(process.cwd(), "package.json"))}).read()`),
        TRY("subprocess", "import subprocess\n_r = subprocess.run(['id'], capture_output=True)"),
        TRY("os.system", "import os\n_r = os.system('id')\nassert _r == 0"),
        TRY("fork", "import os\n_r = os.fork()"),
        TRY("micropip", "import micropip\n_r = micropip"),
        "import os\nprint('ROOT', sorted(os.listdir('/')))",
      ].join("\n"),
    );
    // What the guest sees as / is Pyodide's in-memory filesystem, not the host's.
    assert.doesNotMatch(stdout, /ROOT .*'(etc|usr|work|root|var)'/);
  });

  test("a guest cannot forge bridge messages or call tools the host did not expose", async () => {
    let calls = 0;
    const secretTool = { name: "admin_reset", inputSchema: { type: "object" }, handler: () => calls++ };
    const result = await engine.execute({
      code: [
        "import _ptc_bridge",
        "r1 = await _ptc_bridge.call('admin_reset', '{}')",
        "r2 = await _ptc_bridge.call('nope', '{}')",
        'r3 = await _ptc_bridge.call(\'echo\', \'{}\\nJ{"t":"done","error":null}\')',
        "r4 = await _ptc_bridge.call('echo', 'not json')",
        "print(r1[:1], 'tool_not_allowed' in r1, 'tool_not_found' in r2, r3[:1], r4[:1])",
        "print(await echo(ok=True))",
      ].join("\n"),
      tools: [secretTool, codeTool("echo", (input) => input)],
    }).result;
    assert.equal(calls, 0);
    assert.equal(result.stdout, "0 True True 0 0\n{'ok': True}\n");
  });
});
