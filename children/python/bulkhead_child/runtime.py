"""The child runtime: registration of handlers, the handshake, requests one
at a time, cancellation, shutdown and end of input (docs/protocol.md §4)."""

import os
import queue
import sys
import threading
import time
import traceback

from . import channel as _channel
from . import wire

EXIT_CLEAN = 0
EXIT_PROTOCOL = 3
# After a shutdown frame or end of input, a running handler gets this long.
SHUTDOWN_GRACE = 1.0


class HandlerError(Exception):
    """A handler's error: sent as a terminal error of kind "handler", with
    optional structured `detail` (any JSON value). `replace=True` asks the
    parent to replace this child after the request."""

    def __init__(self, message, detail=None, replace=False):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.replace = replace


class BadRequest(Exception):
    """The arguments do not fit the command: sent as a terminal error of kind
    "bad_request"; the child serves on. See `field`."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def field(args, name, kind, default=None, required=True):
    """`args[name]`, checked to be a `kind` (a type or a tuple of types);
    raises BadRequest naming the field otherwise. A field that is absent or
    null is `default`, and missing if it is required without a default.
    `bool` is not an `int` here, as in JSON."""
    if not isinstance(args, dict):
        raise BadRequest("the arguments are not a JSON object")
    if args.get(name) is None:
        if required and default is None:
            raise BadRequest("the argument %r is missing" % name)
        return default
    value = args[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        wanted = " or ".join(k.__name__ for k in kinds)
        raise BadRequest("the argument %r is %s, not %s" % (name, type(value).__name__, wanted))
    return value


class Cancelled(Exception):
    """Raised by `emit`, `progress` and `checkpoint` once the parent has
    cancelled the request; a handler that lets it propagate ends the request
    as cancelled."""


class _Failure(Exception):
    """A typed error for the terminal frame."""

    def __init__(self, kind, message, detail=None, replace=False):
        super().__init__(message)
        self.error = {"kind": kind, "message": message}
        if detail is not None:
            self.error["detail"] = detail
        if replace:
            self.error["replace"] = True


class Context:
    """What a handler gets: rows (streaming commands), diagnostics,
    progress, and whether the request was cancelled."""

    def __init__(self, output, request, streaming, cancelled):
        self._output = output
        self._request = request
        self._streaming = streaming
        self._cancelled = cancelled
        self._seq = {}

    @property
    def cancelled(self):
        """Whether the parent has cancelled this request."""
        return self._cancelled.is_set()

    def checkpoint(self):
        """Raises Cancelled if the request was cancelled."""
        if self._cancelled.is_set():
            raise Cancelled()

    def emit(self, row, stream="rows"):
        """Sends one row (any JSON value) on `stream`."""
        if not self._streaming:
            raise TypeError("a unary command cannot emit rows")
        self.checkpoint()
        seq = self._seq.get(stream, 0)
        fields = wire.name_field(stream) + wire.SEQ.pack(seq)
        self._send(wire.ROW, fields, row, "a row")
        self._seq[stream] = seq + 1

    def _send(self, kind, fields, value, what):
        try:
            payload = wire.dumps(value)
            self._output.send(kind, self._request, fields, payload)
        except (TypeError, ValueError, wire.TooLarge) as err:
            raise _Failure("encode", "%s does not encode: %s" % (what, err))

    def progress(self, done, total=None, message=None):
        """Reports progress: `done` of `total` units."""
        self.checkpoint()
        payload = {"done": done}
        if total is not None:
            payload["total"] = total
        if message is not None:
            payload["message"] = message
        self._send(wire.PROGRESS, b"", payload, "progress")

    def log(self, level, message):
        """Sends a diagnostic at `level` (trace, debug, info, warn, error)."""
        payload = {"level": level, "message": str(message)}
        self._send(wire.DIAGNOSTIC, b"", payload, "a diagnostic")

    def debug(self, message):
        self.log("debug", message)

    def info(self, message):
        self.log("info", message)

    def warn(self, message):
        self.log("warn", message)

    def error(self, message):
        self.log("error", message)

    def rows_sent(self):
        return dict(self._seq)


class _Output:
    """Frames to the parent, one writer at a time."""

    def __init__(self, channel):
        self._channel = channel
        self._lock = threading.Lock()
        self.max_frame = wire.DEFAULT_MAX_FRAME

    def send(self, kind, request, fields, payload):
        data = wire.frame(kind, request, fields, payload, self.max_frame)
        with self._lock:
            self._channel.write(data)


class Child:
    """A capability: a name, a version, and the handlers it serves.

        child = Child("py-demo", "0.1.0")

        @child.unary("echo")
        def echo(args, cx):
            return args["text"]

        child.run()
    """

    def __init__(self, name, version):
        self.name = name
        self.version = version
        self._handlers = {}
        self._commands = []
        self._session = None
        self._doctor = None
        self._facts = {}

    def unary(self, name):
        """Registers a unary handler `fn(args, cx) -> response` under `name`."""
        return self._register(name, False)

    def stream(self, name):
        """Registers a streaming handler `fn(args, cx) -> summary` that sends
        rows with `cx.emit`."""
        return self._register(name, True)

    def session(self, fn):
        """Registers the session opener `fn(key, cx)`: it builds the warm
        state a session key names (docs/protocol.md §4.7)."""
        self._session = fn
        return fn

    def doctor(self, fn):
        """Registers the health check `fn(cx) -> [finding, ...]`, each finding
        a dict with code, severity, subject, message and optional hint."""
        self._doctor = fn
        return fn

    def fact(self, key, value):
        """Records a fact for the handshake (a feature, an embedded version)."""
        self._facts[str(key)] = str(value)
        return self

    def _register(self, name, streaming):
        if name.startswith(wire.RESERVED_PREFIX):
            raise ValueError("command names starting with %r are reserved" % wire.RESERVED_PREFIX)

        def register(fn):
            self._commands = [c for c in self._commands if c["name"] != name]
            self._commands.append({"name": name, "streaming": streaming})
            self._handlers[name] = (fn, streaming)
            return fn

        return register

    def info(self):
        info = {
            "name": self.name,
            "version": self.version,
            "pid": os.getpid(),
            "commands": list(self._commands),
            "sessions": self._session is not None,
        }
        if self._doctor is not None:
            info["doctor"] = True
        if self._facts:
            info["facts"] = dict(self._facts)
        return info

    def run(self):
        """Serves the parent until shutdown or end of input, then exits the
        process: 0 when clean, 2 when the channel cannot be opened, 3 when
        the parent broke the protocol."""
        sys.exit(_Runtime(self).serve())

    def _handler(self, command):
        if command == wire.SESSION_COMMAND:
            if self._session is None:
                raise _Failure("unknown_command", "no command named %r; this child does not open sessions" % command)
            return (lambda key, cx: (self._session(key, cx), None)[1]), False
        if command == wire.DOCTOR_COMMAND:
            if self._doctor is None:
                raise _Failure("unknown_command", "no command named %r; this child has no doctor handler" % command)
            return (lambda _args, cx: list(self._doctor(cx))), False
        try:
            return self._handlers[command]
        except KeyError:
            served = ", ".join(c["name"] for c in self._commands) or "nothing"
            raise _Failure("unknown_command", "no command named %r; this child serves %s" % (command, served))


class _Runtime:
    def __init__(self, child):
        self.child = child
        self.requests = queue.Queue()
        self.running = None
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.closing = False

    def serve(self):
        try:
            chan = _channel.open_channel()
        except _channel.SetupError as err:
            _say("cannot open the channel: %s" % err)
            return _channel.EXIT_SETUP
        _channel.watch_parent()
        self.channel = chan
        self.output = _Output(chan)
        try:
            self._handshake()
        except wire.ProtocolError as err:
            _say("the parent broke the protocol: %s" % err)
            return EXIT_PROTOCOL
        reader = threading.Thread(target=self._read, name="bulkhead-input", daemon=True)
        reader.start()
        while True:
            item = self.requests.get()
            if item is None:
                return EXIT_CLEAN
            if isinstance(item, int):
                return item
            try:
                self._handle(*item)
            except OSError as err:
                _say("the channel failed: %s" % err)
                return EXIT_CLEAN

    def _handshake(self):
        body = wire.read_frame(self.channel.read, wire.DEFAULT_MAX_FRAME)
        if body is None:
            raise wire.ProtocolError("the input ended before the hello")
        kind, _request, _name, payload = wire.parse(body)
        if kind != wire.HELLO:
            raise wire.ProtocolError("the first frame is not a hello")
        try:
            hello = wire.loads(payload)
            max_frame = int(hello["max_frame"])
        except (ValueError, KeyError, TypeError) as err:
            raise wire.ProtocolError("the hello does not decode: %s" % err)
        if max_frame < wire.MIN_MAX_FRAME:
            raise wire.ProtocolError("the hello announces max_frame %d, below 4096" % max_frame)
        self.output.max_frame = max_frame
        handshake = {
            "protocol": wire.PROTOCOL_VERSION,
            "max_frame": wire.DEFAULT_MAX_FRAME,
            "child": self.child.info(),
        }
        self.output.send(wire.HANDSHAKE, 0, b"", wire.dumps(handshake))

    def _read(self):
        """The input thread: requests to the queue, cancels to the running
        request, shutdown and end of input to the end."""
        try:
            while True:
                body = wire.read_frame(self.channel.read, wire.DEFAULT_MAX_FRAME)
                if body is None:
                    if _channel.parent_is_gone():
                        _channel.end_group_or_self(EXIT_CLEAN)
                    return self._close(EXIT_CLEAN)
                kind, request, name, payload = wire.parse(body)
                if kind == wire.REQUEST:
                    with self.lock:
                        if self.running is not None or self.closing:
                            raise wire.ProtocolError("a request while request %s runs" % self.running)
                        self.running = request
                        self.cancelled = threading.Event()
                    self.requests.put((request, name, payload, self.cancelled))
                elif kind == wire.CANCEL:
                    with self.lock:
                        if request == self.running:
                            self.cancelled.set()
                elif kind == wire.SHUTDOWN:
                    return self._close(EXIT_CLEAN)
                else:
                    raise wire.ProtocolError("a frame of kind 0x%02x from the parent" % kind)
        except wire.ProtocolError as err:
            _say("the parent broke the protocol: %s" % err)
            self._close(EXIT_PROTOCOL)
        except OSError as err:
            _say("the channel failed: %s" % err)
            self._close(EXIT_CLEAN)

    def _close(self, code):
        """Ends after the running handler, if any, or after the grace."""
        with self.lock:
            self.closing = True
            busy = self.running is not None
            self.cancelled.set()
        self.requests.put(None if code == EXIT_CLEAN else code)
        if busy:
            timer = threading.Timer(SHUTDOWN_GRACE, lambda: _channel.end_group_or_self(code))
            timer.daemon = True
            timer.start()

    def _handle(self, request, command, payload, cancelled):
        try:
            fn, streaming = self.child._handler(command)
            cx = Context(self.output, request, streaming, cancelled)
            try:
                args = wire.loads(payload)
            except (ValueError, UnicodeDecodeError) as err:
                raise _Failure("bad_request", "arguments do not decode: %s" % err)
            value = _call(fn, command, args, cx)
            envelope = {"value": value}
            rows = cx.rows_sent()
            if rows:
                envelope["rows"] = rows
            try:
                encoded = wire.dumps(envelope)
                with self.lock:
                    self.running = None
                self.output.send(wire.SUCCESS, request, b"", encoded)
                return
            except (TypeError, ValueError, wire.TooLarge) as err:
                raise _Failure("encode", "the %s does not encode: %s" % ("summary" if streaming else "response", err))
        except _Failure as failure:
            error = failure.error
        try:
            payload = wire.dumps(error)
        except (TypeError, ValueError):
            detail = error.pop("detail")
            error["message"] += " (its detail does not encode: %r)" % (detail,)
            payload = wire.dumps(error)
        with self.lock:
            self.running = None
        self.output.send(wire.ERROR, request, b"", payload)


def _call(fn, command, args, cx):
    """Runs a handler, turning its exceptions into typed errors."""
    try:
        return fn(args, cx)
    except _Failure:
        raise
    except HandlerError as err:
        raise _Failure("handler", err.message, err.detail, err.replace)
    except BadRequest as err:
        raise _Failure("bad_request", err.message)
    except Cancelled:
        raise _Failure("cancelled", "the request was cancelled")
    except Exception as err:  # every other error is the handler's crash
        raise _Failure("panic", _panic_message(command, err), replace=True)


def _panic_message(command, err):
    where = traceback.extract_tb(err.__traceback__)[-1]
    return "handler for %r raised %s: %s (%s:%d)" % (
        command,
        type(err).__name__,
        err,
        os.path.basename(where.filename),
        where.lineno,
    )


def _say(message):
    sys.stderr.write("bulkhead child: %s\n" % message)
    sys.stderr.flush()


def checkpoint_sleep(seconds, cx, step=0.005):
    """Sleeps `seconds`, seeing cancellation every `step` seconds."""
    deadline = time.monotonic() + seconds
    while True:
        cx.checkpoint()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))
