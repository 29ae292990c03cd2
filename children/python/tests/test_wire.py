"""The Python child's frames against the examples of docs/protocol.md."""

import io
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bulkhead_child import BadRequest, field, wire  # noqa: E402


def unhex(text):
    return bytes(int(pair, 16) for pair in text.split())


class Frames(unittest.TestCase):
    def test_a_request_is_encoded_as_the_spec_shows(self):
        expected = unhex(
            "00 00 00 1c 10 00 00 00 00 00 00 00 01 00 04 65"
            " 63 68 6f 7b 22 74 65 78 74 22 3a 22 68 69 22 7d"
        )
        got = wire.frame(wire.REQUEST, 1, wire.name_field("echo"), wire.dumps({"text": "hi"}), 1 << 20)
        self.assertEqual(got, expected)
        kind, request, name, payload = wire.parse(got[4:])
        self.assertEqual((kind, request, name, wire.loads(payload)), (wire.REQUEST, 1, "echo", {"text": "hi"}))

    def test_a_row_is_encoded_as_the_spec_shows(self):
        expected = unhex(
            "00 00 00 1e 20 00 00 00 00 00 00 00 02 00 04 72"
            " 6f 77 73 00 00 00 00 00 00 00 00 7b 22 6e 22 3a 30 7d"
        )
        fields = wire.name_field("rows") + wire.SEQ.pack(0)
        self.assertEqual(wire.frame(wire.ROW, 2, fields, wire.dumps({"n": 0}), 1 << 20), expected)

    def test_an_oversized_frame_is_refused_before_its_body_is_read(self):
        stream = io.BytesIO(wire.LENGTH.pack(wire.DEFAULT_MAX_FRAME + 1))
        with self.assertRaises(wire.ProtocolError):
            wire.read_frame(stream.read, wire.DEFAULT_MAX_FRAME)

    def test_a_frame_over_the_parents_maximum_is_not_encoded(self):
        with self.assertRaises(wire.TooLarge):
            wire.frame(wire.SUCCESS, 1, b"", b"x" * 5000, 4096)

    def test_unknown_kinds_and_truncation_are_protocol_errors(self):
        with self.assertRaises(wire.ProtocolError):
            wire.parse(unhex("7f 00 00 00 00 00 00 00 01"))
        stream = io.BytesIO(unhex("00 00 00 09 11 00 00"))
        with self.assertRaises(wire.ProtocolError):
            wire.read_frame(stream.read, wire.DEFAULT_MAX_FRAME)

    def test_nan_is_not_json(self):
        with self.assertRaises(ValueError):
            wire.dumps(float("nan"))
        with self.assertRaises(ValueError):
            wire.loads(b"[NaN]")


class Fields(unittest.TestCase):
    def test_fields_are_checked_by_type(self):
        self.assertEqual(field({"n": 3}, "n", int), 3)
        self.assertEqual(field({}, "stream", str, default="rows"), "rows")
        self.assertIsNone(field({"x": None}, "x", bool, required=False))
        for args in ({}, {"n": "3"}, {"n": True}, []):
            with self.assertRaises(BadRequest):
                field(args, "n", int)


if __name__ == "__main__":
    unittest.main()
