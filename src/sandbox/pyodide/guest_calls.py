# Part of the guest runtime, run after guest.py in its namespace (child-instance.ts GUEST_PARTS): the
# futures of tool calls, by call id, and what resolves them: a live call's result from the host (the tasks
# it wakes run at once, through guest_loop.py's drain), or a journaled call's recorded reply during a replay,
# handed over only when nothing else can wake the script first (counted here: JS promises and callbacks).

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
    future = _journaled.pop(call_id, None)
    if future is not None and not future.done():
        future.set_result(reply)


def _ptc_receive(call_id, reply):
    """A live call's result from the host (child-calls.ts). The tasks it wakes run now, in this call, unless a
    drain is scheduled already: delivering a result through the event loop cost a JS promise (~20 µs), or a
    scheduled drain (a once-callable proxy, a setImmediate) and a second call into Python."""
    global _drain_pending
    scheduled = _drain_pending
    future = _live.pop(call_id, None)
    if future is not None and not future.done():
        _drain_pending = True  # the task's wakeup joins the drain below (or the one scheduled)
        future.set_result(reply)
        _drain_pending = scheduled
    if not scheduled and _ready:
        _drain()


def _ptc_receive_all(batch):
    """As `_ptc_receive`, for the results of one read from the host (a gather's): `<call id> <reply>` lines."""
    global _drain_pending
    scheduled = _drain_pending
    _drain_pending = True
    for item in batch.split("\n"):
        space = item.find(" ")
        future = _live.pop(int(item[:space]), None)
        if future is not None and not future.done():
            future.set_result(item[space + 1 :])
    _drain_pending = scheduled
    if not scheduled and _ready:
        _drain()
