import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { delay } from "../helpers/engine.js";
import { assertCompleted, assertFailedWith, startHarness, underAttack, type WireExecution } from "./harness.js";
import {
  assertContainerAfter,
  assertSandboxGone,
  containerWithState,
  countingTool,
  hostRss,
  treeCpuMs,
} from "./resources-helpers.js";

/**
 * Resource attacks: scripts that spin, sleep, allocate, recurse, print, or call tools without end. Each
 * ends with its own stable code in the result and the record, the host's memory stays flat, the server
 * answers, the execution beside it is right, and its container keeps its state or restarts clean.
 */

const counting = countingTool();
const harness = await startHarness({ tools: [counting.tool] });

/** Generous: a sandbox's whole output cap, a parsed copy, and noise from the other cases running. */
const HOST_RSS_BOUND = 160 * 1_048_576;

describe("resources: time", () => {
  // Protection: the wall-clock timer in Execution#run halts the execution and SIGKILLs the sandbox;
  // SIGKILL cannot be caught or ignored, and ptc never relies on SIGINT or SIGTERM.
  test("an infinite loop that ignores SIGINT and SIGTERM is killed at the wall deadline (wall_timeout); the container restarts clean", async () => {
    await underAttack(harness, async () => {
      const { container, pid } = await containerWithState(harness);
      const code = [
        "import signal",
        "for s in (signal.SIGINT, signal.SIGTERM):",
        "    try:",
        "        signal.signal(s, signal.SIG_IGN)",
        "    except Exception:",
        "        pass",
        "while True:",
        "    pass",
      ].join("\n");
      const state = await harness.execute({ code, container, limits: { wall_timeout_ms: 2_000 } });
      const result = await assertFailedWith(harness, state, "wall_timeout");
      assert.ok(result.limits_hit.includes("wall_timeout"));
      await assertSandboxGone(pid);
      await assertContainerAfter(harness, container, "reset");
    });
  });

  // Protection: active time (CPU time the host reads from /proc) passes its limit -> SIGKILL. A C-level
  // loop never returns to the interpreter, so nothing short of killing the process stops it. A run's
  // first print (and any after a quiet moment) is flushed at once (child.ts), so it outlives the kill.
  test("a C-level loop no signal interrupts is SIGKILLed at the active-time deadline (active_timeout), keeping what it printed before", async () => {
    await underAttack(harness, async () => {
      const { container, pid } = await containerWithState(harness);
      const state = await harness.execute({
        code: "print('step 1')\nsum(range(10**13))",
        container,
        limits: { active_timeout_ms: 1_500, wall_timeout_ms: 30_000 },
      });
      const result = await assertFailedWith(harness, state, "active_timeout");
      assert.equal(result.stdout, "step 1\n");
      await assertSandboxGone(pid);
      await assertContainerAfter(harness, container, "reset");
    });
  });

  // Protection: the wall timer. Sleeping uses no CPU, so active time does not count it; the wall does.
  test("time.sleep(10**6) and asyncio.sleep(10**9) end at the wall deadline, not as active time", async () => {
    await underAttack(harness, async () => {
      const limits = { wall_timeout_ms: 2_500, active_timeout_ms: 1_000 };
      const [blocking, awaiting] = await Promise.all([
        harness.execute({ code: "import time\ntime.sleep(10**6)", limits }),
        harness.execute({ code: "import asyncio\nawait asyncio.sleep(10**9)", limits }),
      ]);
      await assertFailedWith(harness, blocking, "wall_timeout");
      await assertFailedWith(harness, awaiting, "wall_timeout");
    });
  });
});

describe("resources: memory", () => {
  // Protection: WebAssembly.Memory.prototype.grow refuses growth past memory_bytes (child.ts), which
  // Python turns into MemoryError; the host never holds the guest's memory.
  test("stepwise growth and huge allocations stop at memory_bytes (memory_limit, catchable MemoryError); host RSS stays flat; the container keeps its state", async () => {
    await underAttack(harness, async () => {
      const limits = { memory_bytes: 256 * 1_048_576 };
      const before = hostRss();
      const stepwise = async () => {
        const { container } = await containerWithState(harness);
        const state = await harness.execute({
          code: "a = []\nwhile True:\n    a.append(bytearray(10**7))",
          container,
          limits,
        });
        const result = await assertFailedWith(harness, state, "memory_limit");
        assert.equal(result.error?.type, "MemoryError");
        assert.match(result.error?.message ?? "", /memory limit of 268435456 bytes/);
        assert.ok(result.limits_hit.includes("memory_limit"));
        // The failed statement's memory is freed with its frame: the same sandbox carries on.
        await assertContainerAfter(harness, container, "kept");
      };
      const huge = async () => {
        const code = [
          "sizes = {'bytearray(2**34)': lambda: bytearray(2**34), \"'x' * 10**10\": lambda: 'x' * 10**10,",
          "         'bytearray(2**31 - 1)': lambda: bytearray(2**31 - 1), \"b'x' * 2**30\": lambda: b'x' * 2**30}",
          "for name, make in sizes.items():",
          "    try:",
          "        make()",
          "        print(name, 'allocated')",
          "    except (MemoryError, OverflowError) as e:",
          "        print(name, type(e).__name__)",
          "x = 'x' * 10**10",
        ].join("\n");
        const state = await harness.execute({ code, limits });
        const result = await assertFailedWith(harness, state, "python_error");
        // 2**34 and 10**10 do not fit wasm32's 32-bit sizes; the others pass the cap.
        assert.equal(
          result.stdout,
          "bytearray(2**34) OverflowError\n'x' * 10**10 OverflowError\nbytearray(2**31 - 1) MemoryError\nb'x' * 2**30 MemoryError\n",
        );
        assert.equal(result.error?.type, "OverflowError");
        assert.ok(result.limits_hit.includes("memory_limit"));
      };
      await Promise.all([stepwise(), huge()]);
      assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
    });
  });
});

describe("resources: recursion", () => {
  // Protection: Python's recursion limit; the error is the script's own, with its traceback.
  test("unbounded recursion raises RecursionError (python_error) and the container keeps its state", async () => {
    await underAttack(harness, async () => {
      const { container } = await containerWithState(harness);
      const state = await harness.execute({ code: "def f():\n    f()\nf()", container });
      const result = await assertFailedWith(harness, state, "python_error");
      assert.equal(result.error?.type, "RecursionError");
      assert.match(result.error?.traceback ?? "", /line 2, in f/);
      await assertContainerAfter(harness, container, "kept");
    });
  });

  // Protection: a sandbox that dies is reported (the stack overflow named from its exit diagnostics in
  // Execution#resolveError), and the container replaces it on the next execution.
  test("recursion past a raised limit, or repr of a 100,000-deep list, overflows the stack: sandbox_crashed (RecursionError), the container restarts clean", async () => {
    await underAttack(harness, async () => {
      const attacks = [
        "import sys\nsys.setrecursionlimit(10**7)\ndef f():\n    f()\nf()",
        "x = []\nfor _ in range(100_000):\n    x = [x]\nrepr(x)",
      ];
      await Promise.all(
        attacks.map(async (code) => {
          const { container, pid } = await containerWithState(harness);
          const state = await harness.execute({ code, container });
          const result = await assertFailedWith(harness, state, "sandbox_crashed");
          assert.equal(result.error?.type, "RecursionError");
          assert.match(result.error?.message ?? "", /stack/);
          await assertSandboxGone(pid);
          await assertContainerAfter(harness, container, "reset");
        }),
      );
    });
  });
});

describe("resources: output", () => {
  // Protection: the output cap, in the child (child.ts makeWriter) and again on the host
  // (Execution#onOutput); past it output is dropped and the script keeps running. The child writes to
  // the host synchronously and reports truncation as it starts, so a script that never yields still
  // has its output up to the cap delivered, and output_limit recorded, when the wall timer kills it.
  test("a gigabyte of print output, or a never-yielding write flood, is cut at max_output_bytes (output_limit); host memory and responses stay bounded", async () => {
    await underAttack(harness, async () => {
      const before = hostRss();
      const gigabyte = async () => {
        const response = await harness.request("POST", "/v1/executions", {
          code: "import sys\nfor _ in range(1024):\n    print('x' * 2**20)\nprint('done', file=sys.stderr)",
          limits: { max_output_bytes: 65_536 },
          wait: 60,
        });
        assert.equal(response.status, 200);
        assert.ok(response.text.length < 200_000, `response of ${response.text.length} bytes`);
        const state = response.json as WireExecution;
        harness.containers.add(state.container_id);
        const result = await assertCompleted(harness, state);
        assert.ok(result.limits_hit.includes("output_limit"));
        assert.deepEqual(result.truncated, { stdout: true, stderr: false });
        assert.equal(result.stderr, "done\n");
        assert.ok(result.stdout.startsWith("x".repeat(65_536)));
        assert.match(result.stdout, /\[ptc: stdout truncated at 65536 bytes; at least \d+ more bytes dropped\]\n$/);
      };
      const flood = async () => {
        // In a container whose sandbox is already up: the wall clock then times the script alone.
        const { container } = await containerWithState(harness);
        const state = await harness.execute({
          code: "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)",
          container,
          limits: { max_output_bytes: 262_144, wall_timeout_ms: 2_500 },
        });
        const result = await assertFailedWith(harness, state, "wall_timeout");
        assert.ok(result.limits_hit.includes("output_limit"), JSON.stringify(result.limits_hit));
        assert.ok(result.stdout.startsWith("y".repeat(262_144)), `stdout of ${result.stdout.length} chars`);
        assert.match(result.stdout, /\[ptc: stdout truncated at 262144 bytes; at least \d+ more bytes dropped\]\n$/);
      };
      await Promise.all([gigabyte(), flood()]);
      assert.ok(hostRss() - before < HOST_RSS_BOUND, `host RSS grew by ${hostRss() - before} bytes`);
    });
  });

  // Protection: the host checks and cuts the guest's error report (sandbox-process.ts checkedGuestError):
  // the message and traceback of an exception would otherwise carry any amount of text past the cap.
  test("an exception with a 9 MB message cannot bypass the output cap: its message and traceback are cut", async () => {
    await underAttack(harness, async () => {
      const response = await harness.request("POST", "/v1/executions", {
        code: "raise ValueError('m' * 9_000_000)",
        limits: { max_output_bytes: 65_536 },
        wait: 60,
      });
      assert.equal(response.status, 200);
      const state = response.json as WireExecution;
      harness.containers.add(state.container_id);
      const result = await assertFailedWith(harness, state, "python_error");
      assert.equal(result.error?.type, "ValueError");
      assert.match(result.error?.message ?? "", /\[ptc: cut at \d+ characters\]$/);
      assert.ok(response.text.length < 300_000, `response of ${response.text.length} bytes`);
    });
  });
});

describe("resources: values crossing into tools", () => {
  // Protection: the stub's encoder (cycles), its nesting check (guest.py _nested_too_deep: the C encoder
  // would overflow the stack and kill the sandbox), and the size cap in the child and the broker.
  test("cyclic, 100,000-deep and 50 MB arguments raise catchable ToolErrors with stable codes; the sandbox survives", async () => {
    await underAttack(harness, async () => {
      const { container } = await containerWithState(harness);
      const code = [
        "cyclic = []",
        "cyclic.append(cyclic)",
        "deep = []",
        "for _ in range(100_000):",
        "    deep = [deep]",
        "for value in (cyclic, deep, 'x' * 50_000_000):",
        "    try:",
        "        await double(n=value)",
        "    except ToolError as e:",
        "        print(e.code)",
      ].join("\n");
      const result = await assertCompleted(harness, await harness.execute({ code, container }));
      assert.equal(result.stdout, "invalid_tool_input\ninvalid_tool_input\ntool_input_too_large\n");
      assert.deepEqual(result.tool_calls, [], "nothing reached a handler");
      const uncaught = await harness.execute({ code: "x = []\nx.append(x)\nawait double(n=x)", container });
      await assertFailedWith(harness, uncaught, "invalid_tool_input");
      await assertContainerAfter(harness, container, "kept");
    });
  });

  // Protection: the host's own checks on every frame (tool-call-broker.ts, the input guard's depth
  // limit): a 100,000-deep JSON text sent on the raw bridge must not overflow the host's stack.
  test("100,000-deep JSON sent on the raw bridge is refused by the host with invalid_tool_input", async () => {
    await underAttack(harness, async () => {
      const code = [
        "bridge = double.__globals__['_bridge_call']",
        "reply = await bridge('double', '{\"n\": ' + '[' * 100_000 + ']' * 100_000 + '}')",
        "import json",
        "print(reply[0], json.loads(reply[1:])['code'])",
      ].join("\n");
      const state = await harness.execute({ code });
      const result = await assertCompleted(harness, state);
      assert.equal(result.stdout, "0 invalid_tool_input\n");
    });
  });
});

describe("resources: tool-call floods", () => {
  // Protection: the child forwards at most max_tool_calls + 1 calls and stops a script that keeps
  // calling (child.ts callTool); the broker refuses past the limit and queues past the concurrency cap.
  test("asyncio.gather of 100,000 calls: the host sees at most max_tool_calls + 1, within the concurrency cap, and the script is stopped (tool_call_limit)", async () => {
    await underAttack(harness, async () => {
      counting.stats.calls = 0;
      counting.stats.maxRunning = 0;
      const response = await harness.request("POST", "/v1/executions", {
        code: "import asyncio\nr = await asyncio.gather(*[slow_double(n=i) for i in range(100_000)])\nprint(len(r))",
        limits: { max_tool_calls: 200, max_concurrent_tool_calls: 4, wall_timeout_ms: 60_000 },
        wait: 60,
      });
      assert.equal(response.status, 200);
      const state = response.json as WireExecution;
      harness.containers.add(state.container_id);
      const result = await assertFailedWith(harness, state, "tool_call_limit");
      assert.ok(result.limits_hit.includes("tool_call_limit"));
      assert.ok(result.tool_calls.length <= 201, `${result.tool_calls.length} calls recorded`);
      assert.ok(counting.stats.calls <= 200, `${counting.stats.calls} handler calls`);
      assert.ok(counting.stats.maxRunning <= 4, `${counting.stats.maxRunning} handlers at once`);
      assert.ok(response.text.length < 1_000_000, `response of ${response.text.length} bytes`);
    });
  });
});

describe("resources: process-level misuse", () => {
  // Protection: the guest's end of run (guest.py _end_of_run) flushes defensively and restores fds 0-2
  // and sys.std*; stdin reads EOF (child.ts setStdin), never the host's protocol stream.
  test("closing or redirecting fds 0-2 and sys.stdout, or reading stdin, fails only that script; the container keeps working", async () => {
    await underAttack(harness, async () => {
      const { container } = await containerWithState(harness);
      const attacks = [
        "import os\nos.close(1)\nos.close(2)\nos.close(0)\nprint('gone')",
        "import sys\nsys.stdout.close()\nsys.stderr.close()\nsys.stdout = None",
        "import os\nos.dup2(os.open('/tmp/sink', os.O_WRONLY | os.O_CREAT), 1)\nprint('to a file')",
      ];
      for (const code of attacks) {
        const state = await harness.execute({ code, container });
        assert.ok(
          state.status === "completed" || state.result?.error?.code === "python_error",
          JSON.stringify(state.result?.error),
        );
        await assertContainerAfter(harness, container, "kept");
      }
      const reading = await harness.execute({ code: "input()", container, limits: { wall_timeout_ms: 5_000 } });
      assert.equal((await assertFailedWith(harness, reading, "python_error")).error?.type, "EOFError");
    });
  });

  // Protection: threads cannot start in the sandbox; sys.exit in a task ends the run (guest.py
  // _run_handle) instead of escaping into JS, which killed the sandbox.
  test("threads fail to start, and sys.exit inside a task ends the run with its code; the sandbox survives", async () => {
    await underAttack(harness, async () => {
      const { container } = await containerWithState(harness);
      const threads = await harness.execute({
        code: "import threading\nthreading.Thread(target=print).start()",
        container,
      });
      assert.equal((await assertFailedWith(harness, threads, "python_error")).error?.type, "RuntimeError");
      const exit = await harness.execute({
        code: "import asyncio, sys\nasync def job():\n    sys.exit(3)\nawait asyncio.gather(job())\nprint('unreachable')",
        container,
      });
      const result = await assertFailedWith(harness, exit, "python_error");
      assert.equal(result.error?.type, "SystemExit");
      assert.equal(result.stdout, "");
      await assertContainerAfter(harness, container, "kept");
    });
  });

  // Protection: callbacks scheduled by a run never fire after it (child.ts generation guard, guest.py
  // _ready cleared), and calls outside a run never reach the host (which would kill the sandbox).
  test("tasks a script leaves behind neither burn CPU nor call tools after it ends", async () => {
    await underAttack(harness, async () => {
      const { container, pid } = await containerWithState(harness);
      counting.stats.calls = 0;
      const code = [
        "import asyncio",
        "async def spin():",
        "    while True:",
        "        await asyncio.sleep(0)",
        "async def late():",
        "    await asyncio.sleep(0.3)",
        "    await slow_double(n=1)",
        "keep = [asyncio.ensure_future(spin()), asyncio.ensure_future(late())]",
        "print('left behind')",
      ].join("\n");
      const state = await harness.execute({ code, container });
      await assertCompleted(harness, state);
      const cpuBefore = treeCpuMs(pid);
      await delay(700);
      const spent = treeCpuMs(pid) - cpuBefore;
      assert.ok(spent < 250, `the idle sandbox used ${spent} ms of CPU in 0.7 s`);
      assert.equal(counting.stats.calls, 0, "no tool call after the execution ended");
      await assertContainerAfter(harness, container, "kept");
    });
  });
});
