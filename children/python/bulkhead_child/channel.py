"""The channel to the parent: the transport the parent chose, the standard
descriptors moved out of the way, and parent-death handling (docs/protocol.md
§1.1, §1.2, §1.4)."""

import os
import signal
import socket
import struct
import sys

CHILD = "BULKHEAD_CHILD"
TRANSPORT = "BULKHEAD_TRANSPORT"
PARENT_PID = "BULKHEAD_PARENT_PID"
SOCKET = "BULKHEAD_SOCKET"
TOKEN = "BULKHEAD_TOKEN"

EXIT_SETUP = 2


class SetupError(Exception):
    """The channel could not be opened; the child exits with code 2."""


class Channel:
    """A byte channel: `read(n)` returns up to n bytes (b"" at the end),
    `write(data)` writes all of it, `close()` ends it."""

    def __init__(self, read, write, close):
        self.read = read
        self.write = write
        self.close = close


def open_channel():
    """Opens the transport named by BULKHEAD_TRANSPORT (stdio when unset),
    then points stdout at stderr and stdin at the null device, so that a
    stray print lands in the parent's stderr ring."""
    name = os.environ.get(TRANSPORT, "stdio")
    if name == "stdio":
        channel = _stdio()
    elif name == "local-socket":
        channel = _local_socket()
    else:
        raise SetupError("this child serves the transports stdio and local-socket, not %r" % name)
    _protect_standard_descriptors()
    return channel


def _stdio():
    sys.stdout.flush()
    reader = os.dup(0)
    writer = os.dup(1)
    inp = os.fdopen(reader, "rb", buffering=0)

    def write(data):
        view = memoryview(data)
        while view:
            written = os.write(writer, view)
            view = view[written:]

    def close():
        for fd in (writer,):
            try:
                os.close(fd)
            except OSError:
                pass

    return Channel(inp.read, write, close)


def _local_socket():
    address = os.environ.get(SOCKET)
    token = os.environ.get(TOKEN)
    if not address or token is None:
        raise SetupError("the local-socket transport needs %s and %s" % (SOCKET, TOKEN))
    if not hasattr(socket, "AF_UNIX"):
        raise SetupError("this Python has no Unix sockets; named pipes are not supported")
    if address.startswith("ns:"):
        if not sys.platform.startswith("linux"):
            raise SetupError("a namespaced socket name needs Linux (abstract sockets): %r" % address)
        target = "\0" + address[len("ns:"):]
    elif address.startswith("path:"):
        target = address[len("path:"):]
    else:
        raise SetupError("not a local socket address (expected ns:NAME or path:PATH): %r" % address)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(target)
        encoded = token.encode("ascii")
        sock.sendall(struct.pack(">I", len(encoded)) + encoded)
    except OSError as err:
        sock.close()
        raise SetupError("cannot connect to %s: %s" % (address, err))

    def close():
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    return Channel(sock.recv, sock.sendall, close)


def _protect_standard_descriptors():
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def leads_its_group():
    return hasattr(os, "getpgid") and os.getpgid(0) == os.getpid()


def end_group_or_self(code):
    """Ends the child: a group leader kills its group (descendants too),
    anyone else exits with `code`."""
    if leads_its_group():
        os.killpg(0, signal.SIGKILL)
    os._exit(code)


def parent_is_gone():
    """Whether the parent that started this child has died (Unix)."""
    expected = os.environ.get(PARENT_PID)
    if not expected or not hasattr(os, "getppid"):
        return False
    try:
        return os.getppid() != int(expected)
    except ValueError:
        return False


def watch_parent():
    """Linux: SIGTERM when the parent dies; a group leader then kills its
    group. Ends at once if the parent is already gone."""
    if hasattr(signal, "SIGTERM") and leads_its_group():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: end_group_or_self(0))
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_is_gone():
        end_group_or_self(0)
