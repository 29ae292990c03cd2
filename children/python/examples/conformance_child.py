#!/usr/bin/env python3
"""A Python child that serves the conformance commands (docs/conformance.md)
and two hazards for the supervision examples: `leak` keeps memory on every
request, `spin` loops for ever.

    bulkhead conformance -- python3 children/python/examples/conformance_child.py
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bulkhead_child import Child, HandlerError, checkpoint_sleep, field  # noqa: E402

child = Child("py-conformance", "0.1.0").fact("python", sys.version.split()[0])
opened = {"key": None}
leaked = []


@child.unary("conformance.echo")
def echo(args, cx):
    return args


@child.stream("conformance.rows")
def rows(args, cx):
    n = field(args, "n", int)
    stream = field(args, "stream", str, default="rows")
    if field(args, "diagnostics", bool, required=False):
        cx.info("sending %d rows" % n)
    for index in range(n):
        cx.emit({"index": index}, stream=stream)
        if field(args, "progress", bool, required=False):
            cx.progress(index + 1, n)
    if field(args, "diagnostics", bool, required=False):
        cx.warn("sent %d rows" % n)
    return {"rows": n}


@child.unary("conformance.sleep")
def sleep(args, cx):
    ms = field(args, "ms", int)
    checkpoint_sleep(ms / 1000.0, cx)
    return {"slept_ms": ms}


@child.unary("conformance.fail")
def fail(args, cx):
    raise HandlerError(field(args, "message", str), detail=args.get("detail"))


@child.unary("conformance.panic")
def panic(args, cx):
    raise RuntimeError(field(args, "message", str))


@child.unary("conformance.exit")
def exit_now(args, cx):
    sys.stderr.flush()
    os._exit(field(args, "code", int))


@child.unary("conformance.stderr")
def stderr(args, cx):
    text = field(args, "text", str)
    if field(args, "stdout", bool, required=False):
        print(text, flush=True)
    else:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    return None


@child.unary("conformance.session")
def session(args, cx):
    return opened["key"]


@child.session
def open_session(key, cx):
    opened["key"] = key


@child.unary("leak")
def leak(args, cx):
    """Keeps `mib` MiB for the life of the process, touched."""
    mib = field(args, "mib", int)
    leaked.append(bytearray(b"x" * (mib * 1024 * 1024)))
    return len(leaked) * mib


@child.unary("spin")
def spin(args, cx):
    """Loops for ever without looking at cancellation."""
    n = 0
    while True:
        n += 1


@child.doctor
def doctor(cx):
    return [{"code": "python", "severity": "info", "subject": "python", "message": "running on Python %s" % sys.version.split()[0]}]


if __name__ == "__main__":
    child.run()
