"""Frames of the bulkhead wire protocol, version 1 (docs/protocol.md §1.3, §2).

Every frame is a 4-byte big-endian body length, then the body: a 1-byte
kind, an 8-byte big-endian request id, kind-specific fields, and a JSON
payload.
"""

import json
import struct

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
MIN_MAX_FRAME = 4 * 1024
HEADER = struct.Struct(">BQ")
LENGTH = struct.Struct(">I")
NAME_LENGTH = struct.Struct(">H")
SEQ = struct.Struct(">Q")

HELLO = 0x01
HANDSHAKE = 0x02
REQUEST = 0x10
CANCEL = 0x11
SHUTDOWN = 0x12
ROW = 0x20
DIAGNOSTIC = 0x21
PROGRESS = 0x22
SUCCESS = 0x30
ERROR = 0x31

KNOWN_KINDS = {HELLO, HANDSHAKE, REQUEST, CANCEL, SHUTDOWN, ROW, DIAGNOSTIC, PROGRESS, SUCCESS, ERROR}

SESSION_COMMAND = "bulkhead.session"
DOCTOR_COMMAND = "bulkhead.doctor"
RESERVED_PREFIX = "bulkhead."


class ProtocolError(Exception):
    """The parent broke the protocol; the child exits with code 3."""


class TooLarge(Exception):
    """A frame would exceed the peer's announced maximum."""


def dumps(value):
    """JSON text as the parent accepts it: UTF-8, no NaN or Infinity."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _refuse_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def loads(payload):
    """Parses a JSON payload, refusing NaN and Infinity as the parent does."""
    return json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)


def frame(kind, request, fields, payload, max_frame):
    """One encoded frame; raises TooLarge past `max_frame` body bytes."""
    length = HEADER.size + len(fields) + len(payload)
    if length > max_frame:
        raise TooLarge("a frame of %d bytes exceeds the parent's maximum of %d bytes" % (length, max_frame))
    return b"".join((LENGTH.pack(length), HEADER.pack(kind, request), fields, payload))


def name_field(name):
    encoded = name.encode("utf-8")
    if len(encoded) > 0xFFFF:
        raise ValueError("a name longer than 65,535 bytes")
    return NAME_LENGTH.pack(len(encoded)) + encoded


def parse(body):
    """Splits a body into (kind, request id, name or None, payload bytes)."""
    if not body:
        raise ProtocolError("an empty frame")
    if len(body) < HEADER.size:
        raise ProtocolError("a frame shorter than its header")
    kind, request = HEADER.unpack_from(body)
    if kind not in KNOWN_KINDS:
        raise ProtocolError("unknown frame kind 0x%02x" % kind)
    rest = body[HEADER.size:]
    name = None
    if kind == REQUEST:
        if len(rest) < NAME_LENGTH.size:
            raise ProtocolError("a request frame shorter than its name length")
        (size,) = NAME_LENGTH.unpack_from(rest)
        if len(rest) < NAME_LENGTH.size + size:
            raise ProtocolError("a request frame shorter than its name")
        try:
            name = rest[NAME_LENGTH.size:NAME_LENGTH.size + size].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("a command name that is not UTF-8")
        rest = rest[NAME_LENGTH.size + size:]
    return kind, request, name, rest


def read_frame(read, max_frame):
    """The next frame body from `read(n)`, or None at a clean end of input."""
    prefix = _read_exactly(read, LENGTH.size)
    if prefix is None:
        return None
    (length,) = LENGTH.unpack(prefix)
    if length > max_frame:
        raise ProtocolError("a frame of %d bytes exceeds the maximum of %d bytes" % (length, max_frame))
    body = _read_exactly(read, length)
    if body is None:
        raise ProtocolError("the input ended inside a frame")
    return body


def _read_exactly(read, size):
    chunks = []
    missing = size
    while missing:
        chunk = read(missing)
        if not chunk:
            if missing == size:
                return None
            raise ProtocolError("the input ended inside a frame")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
