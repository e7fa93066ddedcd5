"""Properties of the protocol codec: whatever bytes arrive, the parser answers with a typed
message or ProtocolViolation, never another exception; what the encoders write, it reads back."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.pgwire.connection import parse_options
from cairn.pgwire.protocol import (
    Bind,
    ProtocolViolation,
    Reader,
    data_row,
    error_response,
    parse_error_fields,
    parse_message,
    parse_startup,
)
from tests.pgwire.rawclient import cstr

KINDS = st.sampled_from([b"Q", b"P", b"B", b"D", b"E", b"C", b"S", b"H", b"X", b"p", b"d",
                         b"c", b"f", b"F", b"Z", b"\x00"])


@settings(max_examples=400)
@given(KINDS, st.binary(max_size=64))
def test_any_body_parses_or_is_a_protocol_violation(kind, body):
    try:
        parse_message(kind, body)
    except ProtocolViolation as exc:
        assert exc.sqlstate in ("08P01", "22021")


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_any_startup_body_parses_or_is_a_protocol_violation(body):
    try:
        parse_startup(body)
    except ProtocolViolation as exc:
        assert exc.sqlstate in ("08P01", "22021", "0A000")


names = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                max_size=12)
values = st.one_of(st.none(), st.binary(max_size=20))


@given(names, names, st.lists(st.sampled_from([0, 1]), max_size=3),
       st.lists(values, max_size=4), st.lists(st.sampled_from([0, 1]), max_size=3))
def test_bind_round_trip(portal, stmt, pformats, params, rformats):
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", len(pformats))
    body += b"".join(struct.pack("!h", f) for f in pformats)
    body += struct.pack("!h", len(params))
    for v in params:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    body += struct.pack("!h", len(rformats)) + b"".join(struct.pack("!h", f) for f in rformats)
    assert parse_message(b"B", body) == Bind(portal, stmt, pformats, params, rformats)


@given(st.lists(values, max_size=6))
def test_data_row_layout(vals):
    msg = data_row(vals)
    assert msg[:1] == b"D"
    assert struct.unpack("!i", msg[1:5])[0] == len(msg) - 1
    r = Reader(msg[5:])
    got = []
    for _ in range(r.int16()):
        n = r.int32()
        got.append(None if n == -1 else r.raw(n))
    r.end()
    assert got == vals


@given(st.sampled_from(["ERROR", "FATAL", "WARNING"]), names, names)
def test_error_response_fields(severity, message, detail):
    raw = error_response(severity, "22012", message, detail=detail, position=7)
    fields = parse_error_fields(raw[5:])
    assert fields["S"] == fields["V"] == severity
    assert fields["C"] == "22012" and fields["M"] == message and fields["P"] == "7"
    assert fields.get("D", "") == detail


def test_startup_options_words():
    assert parse_options("-c TimeZone=UTC --search_path=a,b -cwork_mem=4MB") == [
        ("TimeZone", "UTC"), ("search_path", "a,b"), ("work_mem", "4MB")]
    assert parse_options(r"-c application_name=my\ app") == [("application_name", "my app")]
