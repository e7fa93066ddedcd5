"""Reed-Solomon over GF(2^8): field laws against the bitwise reference, any-k rebuilds, and
the two backends (zfec, numpy) producing byte-identical shards."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.objects import gf256
from cairn.objects.erasure import ReedSolomon, encoding_matrix
from cairn.objects.errors import ErasureError

byte = st.integers(0, 255)


def reference_parity(k: int, m: int, shards: list[bytes]) -> list[bytes]:
    """Parity computed with the table-free multiply, byte by byte (slow, independent)."""
    mat = encoding_matrix(k, m)
    out = []
    for row in mat[k:]:
        acc = bytearray(len(shards[0]))
        for c, shard in zip(row, shards, strict=True):
            for i, b in enumerate(shard):
                acc[i] ^= gf256.mul_slow(c, b)
        out.append(bytes(acc))
    return out


@given(byte, byte)
def test_table_multiply_matches_bitwise_reference(a: int, b: int) -> None:
    assert gf256.mul(a, b) == gf256.mul_slow(a, b)
    assert int(gf256.mul_table()[a, b]) == gf256.mul_slow(a, b)


@given(byte, byte, byte)
def test_field_laws(a: int, b: int, c: int) -> None:
    assert gf256.mul(a, b) == gf256.mul(b, a)
    assert gf256.mul(a, gf256.mul(b, c)) == gf256.mul(gf256.mul(a, b), c)
    assert gf256.mul(a, b ^ c) == gf256.mul(a, b) ^ gf256.mul(a, c)
    if a:
        assert gf256.mul(a, gf256.inv(a)) == 1


def test_zero_has_no_inverse() -> None:
    with pytest.raises(ZeroDivisionError):
        gf256.inv(0)


def test_matrix_inverse_and_singular() -> None:
    m = [[1, 2], [3, 4]]
    assert gf256.mat_mul(m, gf256.mat_inv(m)) == [[1, 0], [0, 1]]
    with pytest.raises(gf256.SingularMatrixError):
        gf256.mat_inv([[1, 2], [1, 2]])


@pytest.mark.parametrize(("k", "m"), [(4, 2), (6, 3), (10, 4), (2, 2), (1, 3)])
def test_every_k_subset_of_the_matrix_is_invertible(k: int, m: int) -> None:
    mat = encoding_matrix(k, m)
    assert [list(r) for r in mat[:k]] == [[int(i == j) for j in range(k)] for i in range(k)]
    subsets = list(itertools.combinations(range(k + m), k))
    for rows in subsets[:300]:
        gf256.mat_inv([list(mat[i]) for i in rows])  # raises if singular


@pytest.mark.parametrize("backend", ["numpy", "zfec"])
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300), km=st.sampled_from([(4, 2), (3, 3), (5, 1), (2, 4)]),
       pick=st.randoms(use_true_random=False))
def test_any_k_shards_rebuild_the_data(backend: str, data: bytes, km: tuple[int, int],
                                       pick: object) -> None:
    k, m = km
    rs = ReedSolomon(k, m, backend)  # type: ignore[arg-type]
    shards = rs.encode(data)
    assert len(shards) == k + m and len({len(s) for s in shards}) == 1
    assert shards[k:] == reference_parity(k, m, shards[:k])
    chosen = pick.sample(range(k + m), k)  # type: ignore[attr-defined]
    assert rs.decode({i: shards[i] for i in chosen}, len(data)) == data
    lost = [i for i in range(k + m) if i not in chosen]
    assert rs.reconstruct({i: shards[i] for i in chosen}, lost) == {i: shards[i] for i in lost}


def test_backends_agree_on_large_stripes() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    a, b = ReedSolomon(4, 2, "numpy"), ReedSolomon(4, 2, "zfec")
    shards = a.encode(data)
    assert shards == b.encode(data)
    for lost in itertools.combinations(range(6), 2):
        have = {i: s for i, s in enumerate(shards) if i not in lost}
        assert a.decode(have, len(data)) == data
        assert b.decode(have, len(data)) == data


def test_numpy_matmul_matches_reference_rows() -> None:
    rng = np.random.default_rng(7)
    rows = [rng.integers(0, 256, 64, dtype=np.uint8) for _ in range(3)]
    coeffs = [[0, 1, 5], [255, 2, 0]]
    got = gf256.matmul_rows(coeffs, rows)
    for r, coeff in zip(got, coeffs, strict=True):
        want = [0] * 64
        for c, row in zip(coeff, rows, strict=True):
            for i in range(64):
                want[i] ^= gf256.mul_slow(c, int(row[i]))
        assert r.tolist() == want


def test_too_few_or_mismatched_shards_are_typed_errors() -> None:
    rs = ReedSolomon(4, 2)
    shards = rs.encode(b"hello world")
    with pytest.raises(ErasureError, match="only 3"):
        rs.decode({0: shards[0], 1: shards[1], 5: shards[5]}, 11)
    with pytest.raises(ErasureError, match="differ in length"):
        rs.decode({0: shards[0], 1: shards[1], 2: shards[2], 3: shards[3] + b"x"}, 11)
    with pytest.raises(ErasureError, match="out of range"):
        rs.decode({9: shards[0]}, 11)
    with pytest.raises(ErasureError):
        ReedSolomon(0, 2)
    with pytest.raises(ErasureError):
        ReedSolomon(200, 100)
