"""A bulkhead child in Python, standard library only (Python >= 3.9).

    from bulkhead_child import Child, HandlerError

    child = Child("py-demo", "0.1.0")

    @child.stream("count")
    def count(args, cx):
        for n in range(args["n"]):
            cx.emit({"n": n})      # raises Cancelled once the parent cancels
        return {"emitted": args["n"]}

    child.run()

Speaks protocol version 1 (docs/protocol.md) over stdio or a local socket
(Unix sockets; Windows named pipes are not supported).
"""

from .runtime import BadRequest, Cancelled, Child, Context, HandlerError, checkpoint_sleep, field
from .wire import PROTOCOL_VERSION

__all__ = [
    "BadRequest",
    "Cancelled",
    "Child",
    "Context",
    "HandlerError",
    "PROTOCOL_VERSION",
    "checkpoint_sleep",
    "field",
]
