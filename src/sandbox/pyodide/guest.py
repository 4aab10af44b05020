# Guest-side runtime: tool stubs, the tool-call bridge, and the runner. Loaded once per Pyodide instance,
# with the parts after it (child-instance.ts GUEST_PARTS): guest_calls.py (the futures of tool calls and
# the replies that resolve them) and guest_loop.py (the event loop that runs what they wake). The parts are
# one source compiled once and run in this namespace (the instance's __main__), in that order: each uses
# the others' names and this part's imports.
import ast
import asyncio
import builtins
import contextvars
import inspect
import json
import linecache
import os
import sys
import traceback
from collections import deque
from functools import partial
from textwrap import dedent as _dedent

import _pyodide._future_helper as _future_helper
import _pyodide_core
import pyodide.ffi as pyodide_ffi
import pyodide.webloop as _webloop
from pyodide.ffi import can_run_sync, create_once_callable, run_sync

import _ptc_bridge

_bridge_call = _ptc_bridge.call
_Future = asyncio.Future
_mark_coroutine_function = inspect.markcoroutinefunction
# Tells the host the script gave up on a call, so it stops the work (guest_calls.py, SentToolCall.cancel).
_bridge_cancel = _ptc_bridge.cancel
# Every event-loop step goes through the child's scheduler, which tells the host when the script is idle.
_schedule = _ptc_bridge.schedule
_webloop.scheduleCallback = _schedule
# Ends the current run at once with this error as JSON ("" for success), abandoning the script.
_stop_run = _ptc_bridge.stop
_std_fds_intact = _ptc_bridge.stdFdsIntact
_record_std_fds = _ptc_bridge.recordStdFds
_SCRIPT = "script.py"
_GUEST = "<ptc>"
# Taken before any script runs: a script may replace `builtins.compile` and `builtins.eval` for its own
# container, not for the runtime's next run.
_compile = builtins.compile
_eval = builtins.eval
_TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


async def _run_script(code):
    """What `pyodide.code.eval_code_async(code, _globals, filename=_SCRIPT, return_mode="none")` does (dedent,
    compile with top-level await, eval, await the coroutine if there is one), without its detour through
    Python's AST: it parses to an `ast.Module`, walks it in Python (`fix_missing_locations`), compiles the
    AST and tokenizes the source again in Python (`should_quiet`, for a trailing semicolon that "none" ignores).
    Measured in the sandbox, compiling a 35-line script: 2.64 -> 0.90 ms (a bare sandbox's run of it 4.0 ->
    2.3-2.6 ms); compiling `pass`: 74 -> 22 µs."""
    compiled = _compile(_dedent(code), _SCRIPT, "exec", _TOP_LEVEL_AWAIT, dont_inherit=True)
    coroutine = _eval(compiled, _globals)
    if coroutine:
        await coroutine


class ToolError(Exception):
    """Raised in the script when a tool call fails. `code` is ptc's stable error code."""

    def __init__(self, message, *, tool=None, code="tool_error"):
        super().__init__(message)
        self.tool = tool
        self.code = code


class ToolTimeoutError(ToolError, TimeoutError):
    """A tool call ran past its timeout."""


# One encoder for all calls, the one `json.JSONEncoder(allow_nan=False).encode` builds per call (its C encoder,
# with a dict of the containers being walked, to catch a cycle): 4.5 -> ~1 µs for `{"x": 1}`.
_encoder = json.JSONEncoder(allow_nan=False)
_c_make_encoder = json.encoder.c_make_encoder


def _new_arguments_encoder():
    return _c_make_encoder({}, _encoder.default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False)


_arguments_encoder = _new_arguments_encoder() if _c_make_encoder else None


def _reset_arguments_encoder():
    # A walk that failed may leave its containers' ids behind: the next call would see a false cycle.
    global _arguments_encoder
    if _arguments_encoder is not None:
        _arguments_encoder = _new_arguments_encoder()


# The C encoder recurses once per level, and a few thousand levels overflow the JS stack under the
# interpreter, which kills the sandbox. The host refuses inputs nested deeper than its
# MAX_TOOL_INPUT_DEPTH (src/tools/input-guard.ts) anyway, and sends that depth with each run
# (caps.maxInputDepth in the run frame, bridge.ts): refuse them here as a catchable error.
_MAX_ARGUMENT_DEPTH = 0
_NESTED = (dict, list, tuple)
_NESTED_TYPES = frozenset(_NESTED)


def _nested_too_deep(arguments):
    level, seen = [arguments], set()
    for _ in range(_MAX_ARGUMENT_DEPTH):
        below = []
        for value in level:
            if id(value) in seen:
                continue  # a cycle (the encoder reports it) or a shared value, walked once
            seen.add(id(value))
            items = value.values() if isinstance(value, dict) else value
            # map(type) runs in C: a long flat list costs little. Subclasses are not followed.
            if not _NESTED_TYPES.isdisjoint(map(type, items)):
                below.extend(item for item in items if isinstance(item, _NESTED))
        if not below:
            return False
        level = below
    return True
_ERROR_TYPES = {"ToolError": ToolError, "ToolTimeoutError": ToolTimeoutError}
_result_mode = "json"

# Scripts written for hosted code execution do `json.loads(await tool(...))` because results are text
# there. In json mode results are already decoded, so json.loads hands decoded values back unchanged.
_json_loads = json.loads


def _loads(s, *args, **kwargs):
    if isinstance(s, (dict, list, int, float, bool)) or s is None:
        return s
    return _json_loads(s, *args, **kwargs)


json.loads = _loads


# The host's JSON has no whitespace around it: its decoder's scanner alone, without `json.loads`' two regex
# matches and Python calls (4.6 -> 0.8 µs for a small result); anything else goes to json.loads as before.
_scan_once = json.JSONDecoder().scan_once


def _json_value(payload):
    try:
        value, end = _scan_once(payload, 0)
    except StopIteration:
        return _json_loads(payload)
    if end != len(payload):
        return _json_loads(payload)
    return value


def _decode(payload):
    if _result_mode == "text":
        # Hosted-compatible: every result is text; a JSON string result is that string itself.
        if payload.startswith('"'):
            return _json_value(payload)
        return payload
    return _json_value(payload)


def _make_stub(name, python_name):
    """A tool's function in the script: a call makes a ToolCall (guest_calls.py), sent to the host once it is
    awaited or scheduled, as a coroutine's body would run then; an `asyncio.gather` of them takes each as the
    future it is, without a task per call."""
    tool = (name, python_name)

    def stub(*args, **kwargs):
        call = _ToolCall(loop=_running_loop() or _LOOP)
        call._ptc_tool = tool
        call._ptc_args = args
        call._ptc_kwargs = kwargs
        return call

    stub.__name__ = python_name
    stub.__qualname__ = python_name
    # `inspect.iscoroutinefunction` says what the model's stubs say: `async def` (src/tools/python-stubs.ts).
    return _mark_coroutine_function(stub)


def _make_refusing_stub(name, python_name, allowed_callers):
    # A direct-only tool: the model saw it, so the script may name it, but calling it from code raises at
    # once, without a bridge call (the host would refuse that too).
    message = f"{python_name} is not callable from code: allowed_callers is {json.dumps(allowed_callers)}"

    async def stub(*args, **kwargs):
        raise ToolError(message, tool=name, code="tool_not_allowed")

    stub.__name__ = python_name
    stub.__qualname__ = python_name
    return stub


_globals = {"__name__": "__main__", "__builtins__": builtins, "ToolError": ToolError, "ToolTimeoutError": ToolTimeoutError}
_installed = set()


def _install_tools(tools):
    for python_name in _installed - {t["pythonName"] for t in tools}:
        _globals.pop(python_name, None)
    _installed.clear()
    for tool in tools:
        callers = tool.get("allowedCallers")
        if callers is not None and "code_execution" not in callers:
            stub = _make_refusing_stub(tool["name"], tool["pythonName"], callers)
        else:
            stub = _make_stub(tool["name"], tool["pythonName"])
        _globals[tool["pythonName"]] = stub
        _installed.add(tool["pythonName"])


def _internal(filename):
    # JavaScript frames (node:internal/..., file://..., wasm://...) appear where the script crossed into JS
    # (asyncio.run under stack switching, a JS callback): they are ptc's machinery, not the script's.
    return (
        filename in ("<exec>", _GUEST, "sandbox")
        or "/pyodide/" in filename
        or "/_pyodide/" in filename
        or ":" in filename
        or filename.endswith((".js", ".mjs", ".cjs", ".ts"))
    )


def _format_error(error):
    frames = traceback.extract_tb(error.__traceback__)
    # Keep the traceback from the script's first frame on: ptc's own frames are noise to the model.
    start = next((i for i, f in enumerate(frames) if f.filename == _SCRIPT), len(frames))
    kept = [f for f in frames[start:] if not _internal(f.filename)]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(kept)
    lines += traceback.format_exception_only(type(error), error)
    line = next((f.lineno for f in reversed(frames) if f.filename == _SCRIPT), None)
    if line is None and isinstance(error, SyntaxError) and error.filename == _SCRIPT:
        line = error.lineno
    info = {"type": type(error).__name__, "message": str(error), "traceback": "".join(lines), "line": line}
    if isinstance(error, ToolError):
        info["code"] = error.code
    return json.dumps(info)


async def _ptc_run(code, tools_json, result_mode, max_input_depth, seed=-1):
    global _result_mode, _MAX_ARGUMENT_DEPTH
    if seed >= 0:
        # The container's seed, on its first run in this sandbox: a replay draws the same numbers.
        import random

        random.seed(seed)
    _result_mode = result_mode
    _MAX_ARGUMENT_DEPTH = max_input_depth
    _install_tools(_json_loads(tools_json))
    linecache.cache[_SCRIPT] = (len(code), None, code.splitlines(True), _SCRIPT)
    try:
        await _run_script(code)
    except SystemExit as exit:
        return _exit_result(exit)
    except BaseException as error:  # noqa: BLE001 - the script's failure is the result
        return _format_error(error)
    finally:
        _end_of_run()
    return ""


def _exit_result(exit):
    if exit.code in (None, 0):
        return ""
    return json.dumps({"type": "SystemExit", "message": str(exit.code), "traceback": "", "exitCode": exit.code if isinstance(exit.code, int) else 1})


_STDIO = ((0, "/dev/stdin", os.O_RDONLY), (1, "/dev/stdout", os.O_WRONLY), (2, "/dev/stderr", os.O_WRONLY))
_STREAMS = ["stdin", "stdout", "stderr"]
_std_streams = [sys.stdin, sys.stdout, sys.stderr]


def _end_of_run():
    """Gives the container's next script working standard streams: this one may have closed or redirected
    fds 0-2 (os.close, os.dup2) or replaced or closed sys.stdout. Flushes what it printed first (output
    buffered while fd 1 was closed comes out now, in this run). Tasks it left behind never run again."""
    _ready.clear()
    # Opened again only when the run changed one of them (child-std-fds.ts): nine file system calls otherwise.
    if not _std_fds_intact():
        try:
            for fd, path, flags in _STDIO:
                fresh = os.open(path, flags)
                if fresh != fd:
                    os.dup2(fresh, fd)
                    os.close(fresh)
            _record_std_fds()
        except BaseException:  # noqa: BLE001, S110 - a script that broke `os` only breaks its own container
            pass
    for stream in (sys.stdout, sys.stderr, *_std_streams[1:]):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - None, closed, or a broken replacement
            pass
    try:
        for index, name in enumerate(_STREAMS):
            if _std_streams[index].closed:
                mode = "w" if index else "r"
                _std_streams[index] = open(index, mode, buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
            setattr(sys, name, _std_streams[index])
            setattr(sys, f"__{name}__", _std_streams[index])
    except BaseException:  # noqa: BLE001, S110
        pass


def _ptc_lockdown():
    for name in list(sys.modules):
        if name == "pyodide_js" or name.startswith("pyodide_js."):
            del sys.modules[name]
    sys.modules.pop("_ptc_bridge", None)
