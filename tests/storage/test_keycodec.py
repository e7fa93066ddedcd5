"""Order-preserving tuple encoding: round trip, order, prefixes, bad input (hypothesis)."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import pytest
from hypothesis import given

from cairn.storage.keycodec import KeyCodecError, pack, prefix_end, unpack

ELEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(1 << 200), max_value=1 << 200),
    st.floats(allow_nan=False), st.text(), st.binary())
TUPLES = st.lists(ELEMENTS, max_size=5).map(tuple)


def rank(v: object) -> tuple:
    """The documented order: None < False < True < ints < floats < str < bytes."""
    if v is None:
        return (0,)
    if v is False or v is True:
        return (1, v)
    if isinstance(v, int):
        return (2, v)
    if isinstance(v, float):
        return (3, v)
    if isinstance(v, str):
        return (4, v.encode())
    return (5, v)


def same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        type(x) is type(y) and (x == y or (isinstance(x, float) and x == y == 0.0))
        for x, y in zip(a, b, strict=True))


@given(TUPLES)
def test_round_trip(t: tuple) -> None:
    assert same(unpack(pack(t)), t)


@given(TUPLES, TUPLES)
def test_bytes_order_is_tuple_order(a: tuple, b: tuple) -> None:
    ra, rb = [rank(x) for x in a], [rank(x) for x in b]
    if ra == rb:
        return  # -0.0 and 0.0 may differ in bytes while comparing equal
    assert (pack(a) < pack(b)) == (ra < rb)


@given(TUPLES, TUPLES)
def test_prefix_tuples_scan_as_ranges(a: tuple, b: tuple) -> None:
    pa, pab = pack(a), pack(a + b)
    assert pab.startswith(pa)
    end = prefix_end(pa)
    assert end is None or pa <= pab < end


def test_examples() -> None:
    assert pack((1,)) < pack((2,)) < pack((256,)) < pack((1 << 80,))
    assert pack((-(1 << 80),)) < pack((-256,)) < pack((-1,)) < pack((0,))
    assert pack(("ab",)) < pack(("abc",)) < pack(("b",))
    assert pack(("a\x00b",)) > pack(("a",))
    assert unpack(pack((-0.5, math.inf, -math.inf))) == (-0.5, math.inf, -math.inf)
    assert prefix_end(b"ab\xff\xff") == b"ac"
    assert prefix_end(b"\xff") is None


@pytest.mark.parametrize("bad", [b"\x30abc", b"\x15", b"\x99", b"\x21\x00\x01", b"\x30\xff\x00"])
def test_garbage_is_a_clear_error(bad: bytes) -> None:
    with pytest.raises(KeyCodecError):
        unpack(bad)


def test_unencodable_values() -> None:
    for v in ([1], {"a": 1}, 1j, bytearray(b"x")):
        with pytest.raises(KeyCodecError):
            pack((v,))
