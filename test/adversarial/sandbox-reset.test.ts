import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode } from "../../src/protocol/errors.js";
import { descendants, readProc } from "../../src/sandbox/process-tree.js";
import type { SandboxProcess, SandboxRunOutcome } from "../../src/sandbox/sandbox-process.js";
import { sandboxStarter } from "../helpers/sandbox-runs.js";

/**
 * A reset sandbox (`SandboxProcess.reset`, what the pool does between one-off executions, possibly of
 * different API keys) must be as clean as a new one: execution 1 tries to leave state behind in every
 * place it can reach (Python, the file system, the JS realm it shares with the child, timers, tasks and
 * calls still pending, memory), and execution 2 in the same process, after a reset, finds none of it.
 */

const MEMORY = 400 * 1024 * 1024;
const startSandbox = await sandboxStarter(MEMORY);

interface Ran {
  outcome: SandboxRunOutcome;
  stdout: string;
  calls: string[];
}

async function run(sandbox: SandboxProcess, code: string): Promise<Ran> {
  let stdout = "";
  const calls: string[] = [];
  const outcome = await sandbox.run(
    {
      code,
      tools: [{ name: "lookup", pythonName: "lookup" }],
      resultMode: "json",
      maxOutputBytes: 1_000_000,
      memoryBytes: MEMORY,
    },
    {
      // Never answered: the call stays pending when the script ends.
      onToolCall: (callId, name) => calls.push(`${callId}:${name}`),
      onOutput: (stream, text) => {
        if (stream === "stdout") stdout += text;
      },
    },
  );
  return { outcome, stdout, calls };
}

function assertDone(ran: Ran): void {
  assert.equal(ran.outcome.kind, "done", JSON.stringify(ran.outcome));
  if (ran.outcome.kind === "done") assert.equal(ran.outcome.error, null, JSON.stringify(ran.outcome.error));
}

/** What a script reports of the state execution 1 tries to leave; a fresh sandbox's answers are the reference. */
const INSPECT = `
import sys, json, builtins, random, os, asyncio, js, __main__
seen = {}
seen["global"] = "LEFT_BEHIND" in globals()
seen["main_global"] = hasattr(__main__, "LEFT_BEHIND")
seen["module"] = "left_module" in sys.modules
seen["json"] = json.dumps({"a": 1})
seen["len"] = len([1, 2])
seen["builtin"] = hasattr(builtins, "left_builtin")
seen["tmp"] = os.path.exists("/tmp/left.txt")
seen["cwd"] = os.path.exists("left_cwd.txt")
seen["recursion"] = sys.getrecursionlimit()
seen["random_seeded"] = random.random() == random.Random(1234).random()
seen["object_proto"] = js.Object.getOwnPropertyNames(js.Object.prototype).includes("polluted")
seen["array_proto"] = js.Object.getOwnPropertyNames(js.Array.prototype).includes("polluted")
seen["array_flat"] = js.Array.prototype.flat.name
seen["promise_any"] = js.Promise.any.name
seen["math_hypot"] = js.Math.hypot(3, 4)
seen["jsglobals"] = js.Object.getOwnPropertyNames(js).includes("polluted")
seen["bridge_fn"] = js.Object.getOwnPropertyNames(__main__._bridge_call).includes("polluted")
seen["stack_limit"] = js.Error.stackTraceLimit
huge = bytearray(300 * 1024 * 1024)  # execution 1 kept 200 MB alive: both would not fit under the cap
seen["allocated"] = len(huge) // (1024 * 1024)
del huge
await asyncio.sleep(0.6)  # execution 1's timers and task were due after 0.3 s
print(json.dumps(seen, sort_keys=True))
`;

const POLLUTE = `
import sys, json, builtins, random, os, asyncio, js, __main__
from pyodide.ffi import create_proxy
LEFT_BEHIND = 1
__main__.LEFT_BEHIND = 1
sys.modules["left_module"] = type(sys)("left_module")
builtins.left_builtin = 1
open("/tmp/left.txt", "w").write("x")
open("left_cwd.txt", "w").write("x")
random.seed(1234)
huge = bytearray(200 * 1024 * 1024)
refused = {}
def attempt(name, action):
    try:
        action()
        refused[name] = False
    except Exception:
        refused[name] = True
attempt("object_proto", lambda: setattr(js.Object.prototype, "polluted", 1))
attempt("array_proto", lambda: setattr(js.Array.prototype, "polluted", 1))
attempt("array_flat", lambda: setattr(js.Array.prototype, "flat", js.Math.max))
attempt("promise_any", lambda: setattr(js.Promise, "any", js.Math.max))
attempt("math_hypot", lambda: setattr(js.Math, "hypot", js.Math.max))
attempt("jsglobals", lambda: setattr(js, "polluted", 1))
attempt("bridge_fn", lambda: setattr(__main__._bridge_call, "polluted", 1))
js.Error.stackTraceLimit = 0
js.setTimeout(create_proxy(lambda: print("TIMER FIRED")), 300)
asyncio.get_event_loop().call_later(0.3, lambda: print("LATER FIRED"))
async def left_task():
    await asyncio.sleep(0.3)
    print("TASK FIRED")
asyncio.ensure_future(left_task())
asyncio.ensure_future(lookup(q="left"))
await asyncio.sleep(0)
json.dumps = lambda *args, **kwargs: "polluted"
# len() wrong for the probe's list only: the runtime's own uses of len must keep working to end the run.
_len = builtins.len
builtins.len = lambda value: -1 if type(value) is list and value == [1, 2] else _len(value)
sys.setrecursionlimit(321)
print(refused)
`;

test("a reset sandbox keeps nothing an execution left behind, in Python, files, the JS realm, timers or memory", async () => {
  const fresh = await run(await startSandbox(), INSPECT);
  assertDone(fresh);
  const reference = JSON.parse(fresh.stdout) as Record<string, unknown>;

  const sandbox = await startSandbox();
  const polluted = await run(sandbox, POLLUTE);
  assertDone(polluted);
  assert.deepEqual(polluted.calls, ["1:lookup"], "the unawaited call reached the host and stays unanswered");
  // The realm is not frozen: each write took (the script's own run, and its container's, may patch it).
  assert.match(polluted.stdout, /'object_proto': False/);
  assert.doesNotMatch(polluted.stdout, /True/, polluted.stdout);

  await sandbox.reset();
  assert.equal(sandbox.resets, 1);
  // The old run's call, answered late, reaches nothing.
  sandbox.sendToolResult(1, true, '"late"');
  const after = await run(sandbox, INSPECT);
  assertDone(after);
  assert.deepEqual(after.calls, []);
  assert.doesNotMatch(after.stdout, /FIRED/);
  const seen = JSON.parse(after.stdout) as Record<string, unknown>;
  assert.deepEqual(seen, reference);
  assert.deepEqual(seen, {
    allocated: 300,
    array_proto: false,
    array_flat: "flat",
    bridge_fn: false,
    builtin: false,
    cwd: false,
    global: false,
    json: '{"a": 1}',
    math_hypot: 5,
    jsglobals: false,
    len: 2,
    main_global: false,
    module: false,
    object_proto: false,
    promise_any: "any",
    random_seeded: false,
    recursion: reference.recursion,
    stack_limit: reference.stack_limit,
    tmp: false,
  });
});

test("a realm the guest locked cannot be put back: the reset fails and the process is killed", async () => {
  const sandbox = await startSandbox();
  assertDone(
    await run(sandbox, "import js\njs.Object.freeze(js.Math)\njs.Object.preventExtensions(js.Array.prototype)"),
  );
  await assert.rejects(
    sandbox.reset(),
    (error: Error & { code?: string }) => error.code === ErrorCode.SandboxResetFailed,
  );
  await sandbox.exited;
  assert.equal(sandbox.alive, false);
  assert.equal(sandbox.resets, 0);
});

/** The sandbox's Node process (under bubblewrap, a descendant): the largest resident set in its tree, in MB. */
function residentMb(sandbox: SandboxProcess): number {
  const root = sandbox.pid as number;
  let largest = 0;
  for (const pid of [root, ...descendants(root)]) {
    const match = /VmRSS:\s+(\d+)/.exec(readProc(`/proc/${pid}/status`) ?? "");
    largest = Math.max(largest, match ? Number(match[1]) / 1024 : 0);
  }
  return largest;
}

test("50 resets of one sandbox do not accumulate old interpreters", {
  skip: process.platform !== "linux",
}, async () => {
  const sandbox = await startSandbox();
  const work = "data = [str(i) * 10 for i in range(20000)]\nprint(len(data))";
  assertDone(await run(sandbox, work));
  await sandbox.reset();
  assertDone(await run(sandbox, work));
  const first = residentMb(sandbox);
  for (let index = 1; index < 50; index++) {
    await sandbox.reset();
    assertDone(await run(sandbox, work));
  }
  assert.equal(sandbox.resets, 50);
  const last = residentMb(sandbox);
  // One interpreter is ~100 MB resident: a leak of each would be gigabytes by now.
  assert.ok(last < first + 150, `resident ${first.toFixed(0)} MB after 1 reset, ${last.toFixed(0)} MB after 50`);
});
