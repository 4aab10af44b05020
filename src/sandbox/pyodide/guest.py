# Guest-side runtime: tool stubs, the tool-call bridge, and the runner. Loaded once per sandbox.
import asyncio
import builtins
import json
import linecache
import sys
import traceback

import pyodide.webloop as _webloop
from pyodide.code import eval_code_async
from pyodide.ffi import can_run_sync, run_sync

import _ptc_bridge

_bridge_call = _ptc_bridge.call
# Every event-loop step goes through the child's scheduler, which tells the host when the script is idle.
_webloop.scheduleCallback = _ptc_bridge.schedule
_SCRIPT = "script.py"
_GUEST = "<ptc>"


class ToolError(Exception):
    """Raised in the script when a tool call fails. `code` is ptc's stable error code."""

    def __init__(self, message, *, tool=None, code="tool_error"):
        super().__init__(message)
        self.tool = tool
        self.code = code


class ToolTimeoutError(ToolError, TimeoutError):
    """A tool call ran past its timeout."""


# One encoder for all calls: json.dumps(..., allow_nan=False) would build a new one per call.
_encode_arguments = json.JSONEncoder(allow_nan=False).encode
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


def _decode(payload):
    if _result_mode == "text":
        # Hosted-compatible: every result is text; a JSON string result is that string itself.
        if payload.startswith('"'):
            return _json_loads(payload)
        return payload
    return _json_loads(payload)


def _make_stub(name, python_name):
    async def stub(*args, **kwargs):
        if args:
            if len(args) != 1 or kwargs or not isinstance(args[0], dict):
                raise TypeError(f"{python_name}() takes keyword arguments or a single dict of arguments")
            arguments = args[0]
        else:
            arguments = kwargs
        try:
            text = _encode_arguments(arguments)
        except (TypeError, ValueError) as error:
            raise ToolError(
                f"{python_name}(): arguments are not JSON-serializable: {error}",
                tool=name,
                code="invalid_tool_input",
            ) from None
        reply = await _bridge_call(name, text)
        if reply[0] == "1":
            return _decode(reply[1:])
        info = _json_loads(reply[1:])
        error_type = _ERROR_TYPES.get(info.get("type"), ToolError)
        raise error_type(info.get("message", "tool call failed"), tool=name, code=info.get("code", "tool_error"))

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
        _globals[tool["pythonName"]] = _make_stub(tool["name"], tool["pythonName"])
        _installed.add(tool["pythonName"])


def _internal(filename):
    return filename in ("<exec>", _GUEST) or "/pyodide/" in filename or "/_pyodide/" in filename


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


async def _ptc_run(code, tools_json, result_mode):
    global _result_mode
    _result_mode = result_mode
    _install_tools(_json_loads(tools_json))
    linecache.cache[_SCRIPT] = (len(code), None, code.splitlines(True), _SCRIPT)
    try:
        await eval_code_async(code, _globals, filename=_SCRIPT, return_mode="none")
    except SystemExit as exit:
        if exit.code in (None, 0):
            return ""
        return json.dumps({"type": "SystemExit", "message": str(exit.code), "traceback": "", "exitCode": exit.code if isinstance(exit.code, int) else 1})
    except BaseException as error:  # noqa: BLE001 - the script's failure is the result
        return _format_error(error)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return ""


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
            raise RuntimeError("asyncio.run() inside the sandbox needs WebAssembly stack switching; use `await main()`")
        return loop.run_until_complete(main)
    return _webloop._orig_run(main, debug=debug, loop_factory=loop_factory)


_webloop.WebLoop.run_until_complete = _run_until_complete
asyncio.run = _asyncio_run


def _ptc_lockdown():
    for name in list(sys.modules):
        if name == "pyodide_js" or name.startswith("pyodide_js."):
            del sys.modules[name]
    sys.modules.pop("_ptc_bridge", None)
