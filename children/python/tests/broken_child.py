#!/usr/bin/env python3
"""A deliberately broken child, for the conformance kit's own tests: it
answers the handshake and some commands correctly, and breaks these rules
on purpose (each check named is expected to fail):

- rows, named_stream, progress_and_diagnostics: row numbers start at 1;
- handler_error: the error has no detail;
- panic_asks_for_replacement: a crash does not ask for replacement;
- cancel: a sleep ignores cancel;
- stderr_and_stray_stdout: a stray print goes into the channel;
- shutdown: the shutdown frame is ignored (it exits at end of input);
- frame_limits: the parent's max_frame is ignored.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bulkhead_child import wire  # noqa: E402

COMMANDS = ["echo", "rows", "sleep", "fail", "panic", "exit", "stderr"]


def main():
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.dup(1)

    def send(kind, request, fields, value):
        os.write(out, wire.frame(kind, request, fields, json.dumps(value).encode(), 1 << 30))

    body = wire.read_frame(inp.read, wire.DEFAULT_MAX_FRAME)
    wire.parse(body)
    info = {
        "name": "broken",
        "version": "0.0.1",
        "pid": os.getpid(),
        "commands": [{"name": "conformance." + c, "streaming": c == "rows"} for c in COMMANDS],
    }
    send(wire.HANDSHAKE, 0, b"", {"protocol": 1, "max_frame": wire.DEFAULT_MAX_FRAME, "child": info})
    while True:
        body = wire.read_frame(inp.read, wire.DEFAULT_MAX_FRAME)
        if body is None:
            return 0
        kind, request, name, payload = wire.parse(body)
        if kind != wire.REQUEST:
            continue  # cancel and shutdown ignored
        args = json.loads(payload)
        if name == "conformance.echo":
            send(wire.SUCCESS, request, b"", {"value": args})
        elif name == "conformance.rows":
            if not isinstance(args.get("n"), int):
                send(wire.ERROR, request, b"", {"kind": "bad_request", "message": "n is not a number"})
                continue
            stream = args.get("stream", "rows")
            for index in range(args["n"]):
                fields = wire.name_field(stream) + wire.SEQ.pack(index + 1)
                send(wire.ROW, request, fields, {"index": index})
            send(wire.SUCCESS, request, b"", {"value": {"rows": args["n"]}, "rows": {stream: args["n"]}})
        elif name == "conformance.sleep":
            time.sleep(args["ms"] / 1000.0)
            send(wire.SUCCESS, request, b"", {"value": {"slept_ms": args["ms"]}})
        elif name == "conformance.fail":
            send(wire.ERROR, request, b"", {"kind": "handler", "message": args["message"]})
        elif name == "conformance.panic":
            send(wire.ERROR, request, b"", {"kind": "panic", "message": args["message"]})
        elif name == "conformance.exit":
            os._exit(args["code"])
        elif name == "conformance.stderr":
            os.write(out if args.get("stdout") else 2, (args["text"] + "\n").encode())
            send(wire.SUCCESS, request, b"", {"value": None})
        else:
            send(wire.ERROR, request, b"", {"kind": "unknown_command", "message": "no command named %r" % name})


if __name__ == "__main__":
    sys.exit(main())
