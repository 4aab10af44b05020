import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { codeTool, testEngine } from "../helpers/engine.js";

// The guest's event loop and tool stubs (guest_loop.py, guest.py) where they replace Pyodide's and asyncio's
// own paths for speed: what a script sees must stay what CPython's asyncio and json give it.
/** What echo was called with, in the order the host saw the calls. */
const echoed: unknown[] = [];
const echo = codeTool("echo", (input) => {
  echoed.push((input as { v?: unknown }).v);
  return input;
});
const engine = testEngine({ tools: [echo] });
after(() => engine.close());

async function run(code: string, resultMode?: "json" | "text") {
  const result = await engine.execute({ code, container: "guest-loop", ...(resultMode ? { resultMode } : {}) }).result;
  assert.equal(result.status, "completed", `${result.error?.code}: ${result.error?.message}\n${result.stderr}`);
  return result;
}

describe("tasks", () => {
  test("are asyncio tasks with Pyodide's promise methods, and gather, cancel, TaskGroup and wait behave as asyncio's", async () => {
    const { stdout, stderr } = await run(
      [
        "import asyncio",
        "from pyodide.webloop import PyodideTask",
        "t = asyncio.create_task(echo(v=1))",
        "print(repr(t).split()[0], isinstance(t, asyncio.Task), isinstance(t, PyodideTask), callable(t.then))",
        "print(await t)",
        "print(await asyncio.gather(*[echo(v=i) for i in range(5)]))",
        "async def fails():",
        "    await echo(v=0)",
        "    raise KeyError('k')",
        "print(await asyncio.gather(fails(), echo(v=2), return_exceptions=True))",
        "slow = asyncio.create_task(asyncio.sleep(30))",
        "await asyncio.sleep(0)",
        "slow.cancel()",
        "try:",
        "    await slow",
        "except asyncio.CancelledError:",
        "    print('cancelled', slow.cancelled())",
        "async with asyncio.TaskGroup() as group:",
        "    a = group.create_task(echo(v='a'))",
        "    b = group.create_task(echo(v='b'))",
        "print(a.result(), b.result())",
        "done, pending = await asyncio.wait([asyncio.create_task(echo(v=3)), asyncio.create_task(asyncio.sleep(30))], return_when=asyncio.FIRST_COMPLETED)",
        "print(len(done), len(pending), [d.result() for d in done])",
        "for p in pending: p.cancel()",
      ].join("\n"),
    );
    assert.equal(
      stdout,
      [
        "<Task True True True",
        "{'v': 1}",
        "[{'v': 0}, {'v': 1}, {'v': 2}, {'v': 3}, {'v': 4}]",
        "[KeyError('k'), {'v': 2}]",
        "cancelled True",
        "{'v': 'a'} {'v': 'b'}",
        "1 1 [{'v': 3}]",
        "",
      ].join("\n"),
    );
    assert.equal(stderr, "");
  });

  test("a gather with return_exceptions takes a child's error when its other children end later: nothing reported", async () => {
    const { stdout, stderr } = await run(
      [
        "import asyncio",
        "async def fails():",
        "    await echo(v=0)",
        "    raise KeyError('k')",
        "async def later():",
        "    await asyncio.sleep(0.05)",
        "    return await echo(v=1)",
        "print(await asyncio.gather(fails(), later(), return_exceptions=True))",
      ].join("\n"),
    );
    assert.equal(stdout, "[KeyError('k'), {'v': 1}]\n");
    assert.equal(stderr, "");
  });

  test("a task factory the script sets is used (Pyodide's own create_task failed with one on Python 3.14)", async () => {
    const { stdout } = await run(
      [
        "import asyncio",
        "loop = asyncio.get_running_loop()",
        "made = []",
        "def factory(loop, coro, **kwargs):",
        "    made.append(kwargs.get('name'))",
        "    return asyncio.Task(coro, loop=loop, **kwargs)",
        "loop.set_task_factory(factory)",
        "print(await asyncio.create_task(echo(v=1), name='named'), made)",
        "loop.set_task_factory(asyncio.eager_task_factory)",
        "print(await asyncio.gather(echo(v=2), echo(v=3)))",
        "loop.set_task_factory(None)",
      ].join("\n"),
    );
    assert.equal(stdout, "{'v': 1} ['named']\n[{'v': 2}, {'v': 3}]\n");
  });

  test("a task's error nothing retrieves is reported in the run that made it; a retrieved one is not", async () => {
    const { stdout, stderr } = await run(
      [
        "import asyncio",
        "async def bad(message):",
        "    await echo(v=0)",
        "    raise ValueError(message)",
        "unawaited = [asyncio.create_task(bad('kept and never awaited')), asyncio.create_task(bad('dropped'))]",
        "awaited = asyncio.create_task(bad('awaited'))",
        "try:",
        "    await awaited",
        "except ValueError as error:",
        "    print('caught', error)",
        "await asyncio.gather(bad('gathered'), return_exceptions=True)",
        // Until both have ended (done() retrieves nothing), however long the machine takes to answer a call.
        "while not all(t.done() for t in unawaited):",
        "    await asyncio.sleep(0.01)",
        "for _ in range(3):",
        "    await asyncio.sleep(0)",
        "del unawaited[1]",
        "print('end')",
      ].join("\n"),
    );
    assert.equal(stdout, "caught awaited\nend\n");
    assert.match(stderr, /ValueError: kept and never awaited/);
    assert.match(stderr, /ValueError: dropped/);
    assert.doesNotMatch(stderr, /awaited'|ValueError: awaited|gathered/);
    assert.equal(stderr.match(/Unhandled exception in event loop/g)?.length, 2);
    // Nothing of it comes back in the container's next run.
    assert.equal((await run("import gc\ngc.collect()\nprint('next')")).stderr, "");
  });
});

describe("callbacks (guest_loop.py's ready queue: handles made and run inline, not through Handle's own methods)", () => {
  test("run in order with their context; a cancelled one does not run; an error goes to the loop's handler, as asyncio's", async () => {
    const { stdout, stderr } = await run(
      [
        "import asyncio, contextvars",
        "var = contextvars.ContextVar('var', default='unset')",
        "loop = asyncio.get_running_loop()",
        "seen = []",
        "def record(tag):",
        "    seen.append((tag, var.get()))",
        "def fails():",
        "    raise LookupError('from a callback')",
        "ctx = contextvars.copy_context()",
        "ctx.run(var.set, 'in ctx')",
        "loop.call_soon(record, 'a')",
        "skipped = loop.call_soon(record, 'cancelled')",
        "loop.call_soon(fails)",
        "loop.call_soon(record, 'b', context=ctx)",
        "loop.call_later(0, record, 'c')",
        "h = loop.call_soon(record, 'd')",
        "skipped.cancel()",
        "print(type(h).__name__, h.cancelled(), skipped.cancelled(), h.get_context() is not None)",
        "await asyncio.sleep(0.01)",
        "print(seen)",
      ].join("\n"),
    );
    assert.equal(stdout, "Handle False True True\n[('a', 'unset'), ('b', 'in ctx'), ('c', 'unset'), ('d', 'unset')]\n");
    assert.match(stderr, /Exception in callback fails\(\)/);
    assert.match(stderr, /LookupError: from a callback/);
  });

  test("in debug mode handles keep where they were made; SystemExit in a callback ends the run as exit() does", async () => {
    const { stdout } = await run(
      [
        "import asyncio",
        "loop = asyncio.get_running_loop()",
        "loop.set_debug(True)",
        "h = loop.call_soon(print, 'debug callback')",
        "print(h._source_traceback is not None and len(h._source_traceback) > 0)",
        "await asyncio.sleep(0)",
        "loop.set_debug(False)",
        "print(loop.call_soon(print, 'quiet')._source_traceback)",
        "await asyncio.sleep(0)",
      ].join("\n"),
    );
    assert.equal(stdout, "True\ndebug callback\nNone\nquiet\n");
    const exited = await engine.execute({
      code: "import asyncio, sys\nasyncio.get_running_loop().call_soon(sys.exit, 3)\nawait asyncio.sleep(0.05)\nprint('not reached')",
      container: "guest-loop",
    }).result;
    assert.equal(exited.stdout, "");
    assert.equal(exited.returnCode, 3);
    assert.equal((await run("print('next')")).stdout, "next\n");
  });
});

describe("a run's first step (taken by the run frame itself, guest_loop.py `_ptc_start`)", () => {
  test("runs in a task on the running loop, and a script that awaits nothing ends in it", async () => {
    const { stdout } = await run(
      [
        "import asyncio",
        "t = asyncio.current_task()",
        "loop = asyncio.get_running_loop()",
        "print(type(t).__name__, t.done(), t.get_loop() is loop, t in asyncio.all_tasks())",
      ].join("\n"),
    );
    assert.equal(stdout, "Task False True True\n");
  });

  test("a script that cancels the task it runs in fails with CancelledError, and its container goes on", async () => {
    const ended = await engine.execute({
      code: "import asyncio\nasyncio.current_task().cancel()",
      container: "guest-loop",
    }).result;
    assert.equal(ended.status, "failed");
    assert.equal(ended.error?.type, "CancelledError");
    assert.equal(ended.error?.message, "the script cancelled its own task");
    const awaited = await engine.execute({
      code: "import asyncio\nasyncio.current_task().cancel()\nawait asyncio.sleep(0)",
      container: "guest-loop",
    }).result;
    assert.equal(awaited.error?.type, "CancelledError");
    assert.equal((await run("print(await echo(v=1))")).stdout, "{'v': 1}\n");
  });

  test("a script that makes an event loop of its own (which Pyodide's installs as running) leaves the next run working", async () => {
    // Pyodide's WebLoop() sets itself as the running loop, so the step that made it ends in an error that the
    // drain reports ("is not the running loop"), as any step's; it must not reach the child or the next run.
    const made = await run("import asyncio\nasyncio.new_event_loop()\nprint('made')");
    assert.equal(made.stdout, "made\n");
    assert.match(made.stderr, /is not the running loop/);
    assert.equal(
      (await run("import asyncio\nprint(await echo(v=2), await asyncio.sleep(0))")).stdout,
      "{'v': 2} None\n",
    );
  });
});

describe("tool calls (guest_calls.py ToolCall: a future, sent when awaited or scheduled)", () => {
  test("are sent when awaited or scheduled, in that order, once each, and never if never awaited", async () => {
    echoed.length = 0;
    const { stdout, stderr } = await run(
      [
        "import asyncio, inspect",
        "never = echo(v='never')",
        "print(repr(never).startswith('<ToolCall echo(), not awaited'), inspect.iscoroutinefunction(echo))",
        "dropped = echo(v='cancelled before sent')",
        "print(dropped.cancel(), dropped.cancelled())",
        "first = asyncio.ensure_future(echo(v='first'))",
        "second = echo(v='second')",
        "print((await second)['v'], (await first)['v'], (await first)['v'])",
        "twice = echo(v='twice')",
        // A gather takes the calls as the futures they are: no task each.
        "tasks = len(asyncio.all_tasks())",
        "gathered = asyncio.gather(twice, twice, echo(v='gathered'))",
        "print(len(asyncio.all_tasks()) - tasks, [r['v'] for r in await gathered])",
        "task = asyncio.create_task(echo(v='task'))",
        "print(type(task).__name__, (await task)['v'])",
        // One already sent runs in a task too (it is awaited there, not sent again).
        "print((await asyncio.create_task(twice))['v'])",
        "done, pending = await asyncio.wait([asyncio.ensure_future(echo(v=i)) for i in range(3)])",
        "print(sorted(d.result()['v'] for d in done), len(pending))",
        "print(sorted([(await f)['v'] for f in asyncio.as_completed([echo(v='x'), echo(v='y')])]))",
        "print((await asyncio.shield(echo(v='shielded')))['v'])",
        "try:",
        "    await echo(1, 2)",
        "except TypeError as error:",
        "    print('TypeError', error)",
        "try:",
        "    await dropped",
        "except asyncio.CancelledError:",
        "    print('cancelled')",
      ].join("\n"),
    );
    assert.equal(
      stdout,
      [
        "True True",
        "True True",
        "second first first",
        "0 ['twice', 'twice', 'gathered']",
        "Task task",
        "twice",
        "[0, 1, 2] 0",
        "['x', 'y']",
        "shielded",
        "TypeError echo() takes keyword arguments or a single dict of arguments",
        "cancelled",
        "",
      ].join("\n"),
    );
    assert.equal(stderr, "");
    assert.deepEqual(echoed.slice(0, 6), ["first", "second", "twice", "gathered", "task", 0]);
    assert.deepEqual(echoed.slice(6, 8), [1, 2]);
    assert.deepEqual(echoed.slice(8, 10).sort(), ["x", "y"]);
    assert.deepEqual(echoed.slice(10), ["shielded"]);
  });
});

describe("tool arguments and results", () => {
  test("arguments encode as json.dumps does, and a failed encoding leaves no false cycle behind", async () => {
    const { stdout } = await run(
      [
        "import json, math",
        "shared = {'k': [1, 2.5, None, True, 'é\\u2028\"']}",
        "cyclic = {'a': 1}",
        "cyclic['self'] = cyclic",
        "for bad in (cyclic, {'x': math.nan}, {'x': object()}, {'x': {1}}, {'deep': [shared, cyclic]}):",
        "    try:",
        "        await echo(bad)",
        "    except ToolError as error:",
        "        print(error.code, str(error).split(': ', 2)[-1][:40])",
        "del cyclic['self']",
        "args = {'one': shared, 'two': shared, 'c': cyclic, 'n': [[[]]], 'big': 2**53 - 1, 'f': 1e300}",
        "print(await echo(args) == json.loads(json.dumps(args)))",
      ].join("\n"),
    );
    assert.equal(
      stdout,
      [
        "invalid_tool_input Circular reference detected",
        "invalid_tool_input Out of range float values are not JSON c",
        "invalid_tool_input Object of type object is not JSON serial",
        "invalid_tool_input Object of type set is not JSON serializa",
        "invalid_tool_input Circular reference detected",
        "True",
        "",
      ].join("\n"),
    );
  });

  test("results decode as json.loads does, in both result modes", async () => {
    const value = { s: 'a\u2028b"\\\n', n: [1, -2.5, 1e-7, null, true], o: { ü: {} }, e: [] };
    const tool = codeTool("value", () => value);
    const modes = testEngine({ tools: [tool] });
    try {
      // One result alone (`_ptc_receive`), then several in one read from the host (a gather's: `_ptc_receive_all`).
      const code = [
        "import asyncio, json",
        "for r in [await value(), *await asyncio.gather(*[value() for _ in range(20)])]:",
        "    print(json.dumps(r if isinstance(r, dict) else json.loads(r), sort_keys=True))",
      ].join("\n");
      for (const resultMode of ["json", "text"] as const) {
        const result = await modes.execute({ code, resultMode }).result;
        assert.equal(result.status, "completed", result.error?.message);
        const lines = result.stdout.trim().split("\n");
        assert.equal(lines.length, 21);
        for (const line of lines) assert.deepEqual(JSON.parse(line), value, resultMode);
      }
      const texts = await modes.execute({ code: "print(repr(await value()))", resultMode: "text" }).result;
      assert.equal(texts.stdout.slice(0, 2), "'{", "text mode hands the result over as text");
    } finally {
      await modes.close();
    }
  });
});
