# Part of the guest runtime, run after guest.py and guest_calls.py in their namespace (child-instance.ts
# GUEST_PARTS): the event loop as the guest runs it. Ready callbacks run in batches (`_drain`), which also
# hands a replay's recorded replies over when the script waits on nothing else; timers; and asyncio.run.

# The event loop's ready callbacks run in batches, one JS callback per batch, as asyncio's own loop
# runs its ready queue: Pyodide's WebLoop makes one JS callback (and one proxy) per callback, which
# cost ~180 us each, so an `asyncio.gather` of 100,000 tasks took minutes. What a callback raises goes to
# `_callback_failed`, which ends the run on SystemExit or KeyboardInterrupt in a task rather than letting it
# escape into JS (which killed the sandbox).
_ready = deque()
_drain_pending = False


_take_reply = _ptc_bridge.takeReply


_running_loop = asyncio._get_running_loop
# Taken now: a script that replaces asyncio.Handle does not change what the loop queues and runs.
_Handle = asyncio.Handle
_new_object = object.__new__
_copy_context = contextvars.copy_context
_format_callback_source = asyncio.format_helpers._format_callback_source


def _new_handle(loop, callback, args, context):
    """`Handle(callback, args, loop, context=context)`: outside debug mode its slots are set here, inline where it
    is called (`_call_soon`), without Handle.__init__'s Python frame and its call of `loop.get_debug()`."""
    handle = _new_object(_Handle)
    handle._context = _copy_context() if context is None else context
    handle._loop = loop
    handle._callback = callback
    handle._args = args
    handle._cancelled = False
    handle._repr = None
    handle._source_traceback = None
    return handle


def _drain():
    global _drain_pending
    while True:
        _drain_pending = False
        # The loop is installed once per drain (one call into Python: one thread state under JSPI), and again
        # only if a handle took it away (a nested asyncio.run with a loop of its own): ~2 µs per handle, three
        # handles per gathered call, were spent installing it again.
        installed = None
        for _ in range(len(_ready)):
            if not _ready:
                break
            handle = _ready.popleft()
            loop = handle._loop
            if handle._cancelled:
                continue
            if loop is not installed or _running_loop() is not loop:
                loop._install_running_loop()
                loop._install_asyncgen_hooks()
                installed = loop
            # Handle._run's body, without its two Python frames (its own and `_run_handle`'s) per callback.
            try:
                handle._context.run(handle._callback, *handle._args)
            except BaseException as error:  # noqa: BLE001 - as Handle._run, or the run's end (`_callback_failed`)
                _callback_failed(handle, error)
        if _ready or _drain_pending or not _journaled or _js_waits or _js_callbacks:
            return
        # Nothing is ready and the script waits on calls a replay answers: when nothing else can wake it
        # first, the child hands over the next recorded reply here, and its task runs in this same drain.
        taken = _take_reply()
        if not taken:
            return
        _drain_pending = True  # the wakeup joins this drain rather than scheduling another
        space = taken.index(" ")
        _ptc_deliver(int(taken[:space]), taken[space + 1 :])


def _run_handle(handle):
    try:
        handle._context.run(handle._callback, *handle._args)
    except BaseException as error:  # noqa: BLE001 - see _callback_failed
        _callback_failed(handle, error)


def _callback_failed(handle, error):
    """What a callback raised: SystemExit or KeyboardInterrupt (in a task) ends the run rather than escaping
    into JS (which killed the sandbox); anything else goes to the loop's exception handler, as Handle._run does."""
    if isinstance(error, (SystemExit, KeyboardInterrupt)):
        _ready.clear()
        task = getattr(getattr(handle, "_callback", None), "__self__", None)
        if isinstance(task, asyncio.Future) and task.done():
            task.exception()  # reported as the run's result, not later as "never retrieved"
        _stop_run(_exit_result(error) if isinstance(error, SystemExit) else _format_error(error))
        return
    loop = handle._loop
    source = _format_callback_source(handle._callback, handle._args, debug=loop.get_debug())
    context = {"message": f"Exception in callback {source}", "exception": error, "handle": handle}
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    loop.call_exception_handler(context)


def _run_timer(loop, handle):
    loop._install_running_loop()
    loop._install_asyncgen_hooks()
    if not handle._cancelled:
        _run_handle(handle)


def _call_later(self, delay, callback, *args, context=None):
    global _drain_pending
    if delay < 0:
        raise ValueError("Can't schedule in the past")
    handle = _Handle(callback, args, self, context=context) if self._debug else _new_handle(self, callback, args, context)
    if delay == float("inf"):
        return handle
    if delay > 0:
        _schedule(create_once_callable(partial(_run_timer, self, handle), _may_syncify=True), min(delay * 1000, 2**31 - 1))
        return handle
    _ready.append(handle)
    if not _drain_pending:
        _drain_pending = True
        _schedule(create_once_callable(_drain, _may_syncify=True), 0)
    return handle


_webloop.WebLoop.call_later = _call_later


# asyncio's own `call_soon` straight onto the ready queue: Pyodide's goes through `call_later(0, ...)`, a second
# Python call per callback, and a gathered task makes four (its first step, its wakeup, and two done callbacks:
# the gather's and `_task_done` below; a gathered tool call, a future, makes one: the gather's). The handle's
# lines (`_new_handle`) are repeated here, not shared through a function: one more call cost a gather of 1,000
# ~2 ms (3 alternated pairs).
def _call_soon(self, callback, *args, context=None):
    global _drain_pending
    if self._debug:
        handle = _Handle(callback, args, self, context=context)
    else:
        # `_new_handle`'s lines, inline: one Python frame less a callback.
        handle = _new_object(_Handle)
        handle._context = _copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
    _ready.append(handle)
    if not _drain_pending:
        _drain_pending = True
        _schedule(create_once_callable(_drain, _may_syncify=True), 0)
    return handle


_webloop.WebLoop.call_soon = _call_soon


class _Task(_webloop.PyodideTask):
    """Pyodide's task (its then/catch/finally_ included) without the Python `__init__` and `add_done_callback` it
    wraps asyncio's C ones in, to count done callbacks for its in-progress count, which nothing here reads."""

    __init__ = asyncio.Task.__init__
    add_done_callback = asyncio.Task.add_done_callback


_Task.__name__ = _Task.__qualname__ = "Task"  # as CPython's repr has it: <Task pending name='Task-1' ...>


def _create_task(self, coro, **kwargs):
    """asyncio's `create_task` (3.14's BaseEventLoop's), ~4 µs a task cheaper than Pyodide's, which a gather of 1,000
    coroutines runs 1,000 times; Pyodide's also fails with a task factory set (it calls a function 3.14 removed).
    A tool call (a future, guest_calls.py) runs in a coroutine awaiting it, as a task needs a coroutine."""
    if self.__class__ is not _webloop.WebLoop:
        self._check_closed()  # WebLoop's does nothing: one frame less a task, unless a subclass has its own
    if isinstance(coro, _Call):  # a tool call, sent or not
        coro = _awaiting(coro)
    if self._task_factory is not None:
        task = self._task_factory(self, coro, **kwargs)
    else:
        task = _Task(coro, loop=self, **kwargs)
    task.add_done_callback(_task_done)
    try:
        return task
    finally:
        del task  # as asyncio's: no cycle through a traceback of an eager task's error (gh-128552)


def _task_done(task):
    # Pyodide reports a task's exception when the task ends, if nothing else took a done callback on it: a
    # fire-and-forget task's error shows in the run that made it, not at some later collection. This callback
    # is the task's first; the C future queues all of a task's callbacks together, so another one (an awaiting
    # task's wakeup, a gather's) is next in the queue now, and then the error is theirs: a gather with
    # return_exceptions takes a failed child's error only once every child is done, which may be in a later
    # turn (checking whether it was retrieved once the callbacks had run reported such errors, when the
    # gather's other calls were answered later). Otherwise, reported if still unretrieved after the callbacks.
    if not task.cancelled() and task._log_traceback:
        if _ready:
            following = _ready[0]._args
            if following and following[0] is task:
                return
        task.get_loop().call_soon(_report_unretrieved, task)


def _report_unretrieved(task):
    if task._log_traceback:
        task._log_traceback = False
        task.get_loop().call_exception_handler({"exception": task.exception()})


_webloop.WebLoop.create_task = _create_task
_default_exception_handler = _webloop.WebLoop.default_exception_handler


def _exception_handler(self, context):
    # A task the last run left pending is never resumed; being collected later is not this run's error.
    if str(context.get("message", "")).startswith("Task was destroyed but it is pending"):
        return
    _default_exception_handler(self, context)


_webloop.WebLoop.default_exception_handler = _exception_handler


# The loop every run's task runs on, taken before any script runs (one that sets another event loop changes
# what its own tasks use, not where the next run starts).
_LOOP = asyncio.get_event_loop()


def _ptc_start(code, tools_json, result_mode, max_input_depth, seed, settle):
    """Starts a run: its task's first step runs in this call, in a drain as any step, and a script that waits on
    nothing ends in it, its outcome ("" or the error as JSON) returned at once. Otherwise returns None, and the
    task's end calls `settle` with the outcome. False for either when the task itself failed. Pyodide's way, a
    coroutine the child awaits, wraps the run in a task whose first step and whose end each wait for a drain
    scheduled of its own (two `setImmediate` turns, three calls into Python, a JS promise): ~575 -> ~430 µs a
    bare sandbox's run of `pass`."""
    global _drain_pending
    try:
        _drain_pending = True  # the first step joins the drain below rather than scheduling one
        task = _Task(_ptc_run(code, tools_json, result_mode, max_input_depth, seed), loop=_LOOP)
        _drain()
        if task.done():
            return _outcome(task)
        task.add_done_callback(partial(_settle_run, settle))
    except BaseException:  # noqa: BLE001 - reported as the run's failure, never into the child
        return False
    return None


def _outcome(task):
    if task.cancelled():
        # The script cancelled the task it runs in, and ended before an await could raise it there.
        return json.dumps({"type": "CancelledError", "message": "the script cancelled its own task", "traceback": ""})
    if task.exception() is not None:
        return False
    return task.result()


def _settle_run(settle, task):
    settle(_outcome(task))


def _ptc_begin():
    """Before each run: what an earlier run left queued never runs (the child drops its callbacks too)."""
    global _drain_pending
    _ready.clear()
    _live.clear()
    _journaled.clear()
    _drain_pending = False


# asyncio.run(main()) inside the running loop needs stack switching. Pyodide's own versions look up
# their config through pyodide_js, which guest code loses, so decide here, once.
def _run_until_complete(self, future):
    if not can_run_sync():
        return asyncio.ensure_future(future)
    self._install_asyncgen_hooks()
    return run_sync(future)


def _asyncio_run(main, *, debug=None, loop_factory=None):
    loop = asyncio.events._get_running_loop()
    if loop_factory is None and isinstance(loop, _webloop.WebLoop):
        if not can_run_sync():
            raise RuntimeError("asyncio.run() needs WebAssembly stack switching, which this sandbox's Node lacks: run `npx ptc setup`, or use `await main()`")
        return loop.run_until_complete(main)
    return _webloop._orig_run(main, debug=debug, loop_factory=loop_factory)


_webloop.WebLoop.run_until_complete = _run_until_complete
asyncio.run = _asyncio_run
