# Part of the guest runtime, run after guest.py in its namespace (child-instance.ts GUEST_PARTS): tool calls
# (ToolCall, the future a stub returns), by call id, and what resolves them: a live call's result from the host
# (the tasks it wakes run at once, through guest_loop.py's drain), or a journaled call's recorded reply during a
# replay, handed over only when nothing else can wake the script first (counted here: JS promises and callbacks).

_future_await = _Future.__await__
_future_cancel = _Future.cancel
_future_repr = _Future.__repr__
_blocking = _Future.__dict__["_asyncio_future_blocking"]
_blocking_get = _blocking.__get__
_blocking_set = _blocking.__set__


class _Call(_Future):
    __slots__ = ("_ptc_tool", "_ptc_args", "_ptc_kwargs", "_ptc_id")


class ToolCall(_Call):
    """What calling a tool returns: an asyncio future, sent to the host once awaited or scheduled, as the body of
    the `async def` the model's stubs show would run then (a coroutine's task starts it; here `ensure_future`,
    gather, `as_completed` and `shield` do, in the order they take the calls); never sent if never awaited. A
    gather takes it as the future it is: as a coroutine, each call was a task of its own (its creation, two steps,
    two more callbacks: ~40% of a gathered call's CPU). `create_task` and TaskGroup wrap it in a coroutine
    (guest_loop.py). Once sent it is a `SentToolCall`: cancelling it (wait_for's timeout, a cancelled task
    awaiting it) tells the host to stop the work."""

    __slots__ = ()

    def __await__(self):
        if not self.done():
            _send(self)
        return _future_await(self)

    __iter__ = __await__

    # asyncio tells a future from anything else by reading this (`isfuture`: ensure_future, gather): it is
    # then about to schedule the call, as it would start a coroutine's task.
    @property
    def _asyncio_future_blocking(self):
        if not self.done():
            _send(self)
        return _blocking_get(self)

    @_asyncio_future_blocking.setter
    def _asyncio_future_blocking(self, value):
        _blocking_set(self, value)

    def __repr__(self):
        if self.done():  # cancelled before it was sent
            return _future_repr(self)
        name = self._ptc_tool[1]
        return f"<ToolCall {name}(), not awaited: `await {name}(...)` runs it>"


class SentToolCall(_Call):
    """A tool call once sent: the host runs it, or a replay's journal or the child's refusal answers it. Without
    ToolCall's hooks (its `_asyncio_future_blocking` is the future's own, as a task reads it at every await)."""

    __slots__ = ()

    def cancel(self, msg=None):
        if not _future_cancel(self, msg):
            return False
        call_id = abs(self._ptc_id)
        if call_id:
            _live.pop(call_id, None)
            _journaled.pop(call_id, None)
            _bridge_cancel(call_id)
        return True


_ToolCall = ToolCall
_SentToolCall = SentToolCall
del ToolCall, SentToolCall


async def _awaiting(call):
    """The coroutine `create_task` runs for a tool call (a task needs a coroutine)."""
    return await call


def _send(call):
    """Sends the call to the host (or a replay's journal answers it, or the child refuses it): its id then
    names it in `_live` or `_journaled`. Arguments the host would refuse fail the call here."""
    call.__class__ = _SentToolCall
    name, python_name = call._ptc_tool
    args = call._ptc_args
    arguments = call._ptc_kwargs
    call._ptc_args = call._ptc_kwargs = None
    call._ptc_id = 0
    if args:
        if len(args) != 1 or arguments or not isinstance(args[0], dict):
            call.set_exception(TypeError(f"{python_name}() takes keyword arguments or a single dict of arguments"))
            return
        arguments = args[0]
    # Flat arguments (the usual case) need no walk: map(type) over the values runs in C.
    if (_MAX_ARGUMENT_DEPTH < 1 or not _NESTED_TYPES.isdisjoint(map(type, arguments.values()))) and _nested_too_deep(
        arguments
    ):
        message = f"{python_name}(): arguments are nested more than {_MAX_ARGUMENT_DEPTH} levels deep"
        call.set_exception(ToolError(message, tool=name, code="invalid_tool_input"))
        return
    try:
        text = _encoder.encode(arguments) if _arguments_encoder is None else "".join(_arguments_encoder(arguments, 0))
    except BaseException as error:
        _reset_arguments_encoder()
        if isinstance(error, (TypeError, ValueError)):
            message = f"{python_name}(): arguments are not JSON-serializable: {error}"
            error = ToolError(message, tool=name, code="invalid_tool_input")
        call.set_exception(error)
        return
    try:
        pending = _bridge_call(name, text, True)
    except BaseException as error:  # noqa: BLE001 - the call fails with it, as the stub's body did
        call.set_exception(error)
        return
    if pending.__class__ is int:
        # The child sent the call to the host (its id: _ptc_receive resolves the call), or a replay answers it
        # from its journal (the id negated: _ptc_deliver does).
        call._ptc_id = pending
        if pending > 0:
            _live[pending] = call
        else:
            _journaled[-pending] = call
    else:
        # Refused in the child: a JS promise of the refusal, awaited in a task of its own (it yields to the
        # event loop, so a script retrying a refused call in a loop can still be stopped).
        call.get_loop().create_task(_refused(call, pending))


async def _refused(call, promise):
    _settle(call, await promise)


def _settle(call, reply):
    """Hands `call` the host's reply: "1" and the result as JSON, or "0" and the error as JSON."""
    if call.done():
        return
    if reply[0] != "1":
        info = _json_loads(reply[1:])
        error_type = _ERROR_TYPES.get(info.get("type"), ToolError)
        call.set_exception(
            error_type(info.get("message", "tool call failed"), tool=call._ptc_tool[0], code=info.get("code", "tool_error"))
        )
        return
    try:
        if _result_mode != "json":
            value = _decode(reply[1:])
        else:
            # `_json_value(reply[1:])` inline: the scan starts at 1 rather than on a copy.
            try:
                value, end = _scan_once(reply, 1)
            except StopIteration:
                value = end = None
            if end != len(reply):
                value = _json_loads(reply[1:])
    except Exception as error:  # noqa: BLE001 - what decoding raised is what awaiting the call raises
        call.set_exception(error)
        return
    call.set_result(value)


# Futures of the calls sent to the host, and of those a replay answers from its journal, by call id (the child's).
_live = {}
_journaled = {}

# What else may wake the script, unseen by the child's count of scheduled callbacks: a JS promise it awaits
# (Pyodide settles its future from a JS microtask) or a callback it handed to JS. A replay hands over a
# recorded reply inside the drain only when neither can be there (`_drain`); both are counted for the life
# of the sandbox (a promise or a proxy may outlive its run).
_js_waits = 0
_js_callbacks = False
_future_resolvers = _future_helper.get_future_resolvers


def _counted_resolvers(future):
    global _js_waits
    _js_waits += 1
    settled = []

    def settling(resolve):
        def resolver(value):
            global _js_waits
            if not settled:
                settled.append(True)
                _js_waits -= 1
            resolve(value)

        return resolver

    set_result, set_exception = _future_resolvers(future)
    return settling(set_result), settling(set_exception)


_future_helper.get_future_resolvers = _counted_resolvers


def _marking(make):
    def marked(*args, **kwargs):
        global _js_callbacks
        _js_callbacks = True
        return make(*args, **kwargs)

    marked.__name__ = make.__name__
    marked.__doc__ = make.__doc__
    return marked


for _module in (pyodide_ffi, _pyodide_core):
    for _name in ("create_proxy", "create_once_callable", "to_js"):
        if hasattr(_module, _name):
            setattr(_module, _name, _marking(getattr(_module, _name)))


def _ptc_deliver(call_id, reply):
    """The child hands a journaled call its recorded reply, when the script is idle (child-replay.ts)."""
    call = _journaled.pop(call_id, None)
    if call is not None:
        _settle(call, reply)


def _ptc_receive(call_id, reply):
    """A live call's result from the host (child-calls.ts). The tasks it wakes run now, in this call, unless a
    drain is scheduled already: delivering a result through the event loop cost a JS promise (~20 µs), or a
    scheduled drain (a once-callable proxy, a setImmediate) and a second call into Python."""
    global _drain_pending
    scheduled = _drain_pending
    call = _live.pop(call_id, None)
    if call is not None:
        _drain_pending = True  # the task's wakeup joins the drain below (or the one scheduled)
        _settle(call, reply)
        _drain_pending = scheduled
    if not scheduled and _ready:
        _drain()


def _ptc_receive_all(batch):
    """As `_ptc_receive`, for the results of one read from the host (a gather's): `<call id> <reply>` lines."""
    global _drain_pending
    scheduled = _drain_pending
    _drain_pending = True
    json_mode = _result_mode == "json"
    for item in batch.split("\n"):
        space = item.find(" ")
        call = _live.pop(int(item[:space]), None)
        if call is None or call.done():
            continue
        # `_settle`'s usual path inline (a result in json mode), scanned in place: one frame and a copy less a call.
        if json_mode and item[space + 1] == "1":
            try:
                value, end = _scan_once(item, space + 2)
            except StopIteration:
                end = None
            if end == len(item):
                call.set_result(value)
                continue
        _settle(call, item[space + 1 :])
    _drain_pending = scheduled
    if not scheduled and _ready:
        _drain()
