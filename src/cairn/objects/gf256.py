"""Arithmetic in the Galois field GF(2^8), the field Reed-Solomon erasure codes work in.

Bytes are polynomials over GF(2) of degree < 8; addition is XOR and multiplication is
polynomial multiplication modulo the primitive polynomial x^8+x^4+x^3+x^2+1 (0x11d, the one
used by Rizzo's ``fec``/zfec, ISA-L and most storage codes). Because every non-zero element is
a power of the generator 2, multiplication is a lookup in log/exp tables.

Two implementations live here on purpose:

* :func:`mul_slow` multiplies bit by bit (Russian-peasant, reducing by 0x11d). It shares no
  tables with anything, so tests use it as the independent reference.
* the tables and :func:`matmul_rows` (numpy) are the fast path used by :mod:`.erasure`.

Matrices are small (at most 256 x 256) and handled as lists of lists of ints; only the data
(megabytes) goes through numpy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

POLY = 0x11D

Matrix = list[list[int]]


class SingularMatrixError(ValueError):
    """The matrix has no inverse over GF(2^8) (the shard set cannot rebuild the data)."""


def mul_slow(a: int, b: int) -> int:
    """Multiply two field elements bit by bit; the table-free reference."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= POLY
    return r


def _build_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512  # doubled so exp[log a + log b] needs no modulo
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x = mul_slow(x, 2)
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


EXP, LOG = _build_tables()


def mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def inv(a: int) -> int:
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    return EXP[255 - LOG[a]]


def power(a: int, n: int) -> int:
    if n == 0:
        return 1
    if a == 0:
        return 0
    return EXP[(LOG[a] * n) % 255]


@lru_cache(maxsize=1)
def mul_table() -> npt.NDArray[np.uint8]:
    """MUL[a, b] = a*b, a 64 KiB table; row MUL[c] maps a whole byte array through "times c"."""
    logs = np.array(LOG, dtype=np.int32)
    exps = np.array(EXP, dtype=np.uint8)
    t = exps[(logs[:, None] + logs[None, :])]
    t[0, :] = 0
    t[:, 0] = 0
    return t


def mat_mul(a: Matrix, b: Matrix) -> Matrix:
    rows, inner, cols = len(a), len(b), len(b[0])
    out = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            acc = 0
            for t in range(inner):
                acc ^= mul(a[i][t], b[t][j])
            out[i][j] = acc
    return out


def mat_inv(m: Matrix) -> Matrix:
    """Gauss-Jordan inverse over GF(2^8); raises :class:`SingularMatrixError`."""
    n = len(m)
    aug = [list(row) + [1 if i == j else 0 for j in range(n)] for i, row in enumerate(m)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if aug[r][col]), None)
        if pivot is None:
            raise SingularMatrixError("singular matrix")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        f = inv(aug[col][col])
        aug[col] = [mul(f, v) for v in aug[col]]
        for r in range(n):
            if r != col and aug[r][col]:
                c = aug[r][col]
                aug[r] = [v ^ mul(c, p) for v, p in zip(aug[r], aug[col], strict=True)]
    return [row[n:] for row in aug]


def matmul_rows(coeffs: Matrix, rows: list[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.uint8]]:
    """Multiply a coefficient matrix by a stack of equal-length byte rows (the data path).

    out[i] = XOR_j coeffs[i][j] * rows[j]. Multiplying a byte array by a constant is one
    ``take`` through that constant's 256-entry table row; the XOR accumulates in place.
    """
    table = mul_table()
    out: list[npt.NDArray[np.uint8]] = []
    for coeff_row in coeffs:
        acc: npt.NDArray[np.uint8] | None = None
        for c, row in zip(coeff_row, rows, strict=True):
            if c == 0:
                continue
            term = row.copy() if c == 1 else np.take(table[c], row)
            if acc is None:
                acc = term
            else:
                np.bitwise_xor(acc, term, out=acc)
        out.append(acc if acc is not None else np.zeros_like(rows[0]))
    return out
