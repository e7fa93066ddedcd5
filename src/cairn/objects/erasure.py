"""Reed-Solomon erasure coding k+m over GF(2^8) (DDIA ch. 5/6 durability, as S3 does it inside).

A stripe of data is cut into ``k`` equal data shards (the last one zero-padded) and ``m`` parity
shards are computed, so that *any* ``k`` of the ``k+m`` shards rebuild the stripe: the store
survives the loss of any ``m`` drives at a space cost of ``(k+m)/k`` instead of the ``m+1`` of
replication.

The code is systematic (data shards are the data itself, so a healthy read needs no decoding)
and uses the encoding matrix of Rizzo's ``fec`` (Vandermonde rows at the powers of 2, made
systematic by multiplying with the inverse of its top ``k x k`` block). Every ``k x k``
sub-matrix of it is invertible, which is what "any k rebuild" means.

Two interchangeable backends compute the same bytes:

* ``zfec``: Rizzo's C code (PyPI ``zfec``), the fastest we measured (``cairn bench s3 --ec``);
* ``numpy``: our own table-driven implementation in :mod:`.gf256`, always available.

pyeclib (liberasurecode/ISA-L) was measured too; it was slower here and wraps every fragment in
its own 80-byte header, so shards would not be plain byte ranges. See docs/objects.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from cairn.objects import gf256
from cairn.objects.errors import ErasureError

Backend = Literal["auto", "zfec", "numpy"]

try:  # optional C backend; the numpy one computes identical shards
    import zfec as _zfec
except ImportError:  # pragma: no cover - exercised only where zfec is missing
    _zfec = None


@lru_cache(maxsize=64)
def encoding_matrix(k: int, m: int) -> tuple[tuple[int, ...], ...]:
    """The (k+m) x k systematic matrix: identity on top, parity rows below."""
    n = k + m
    vander = [[1] + [0] * (k - 1)]
    vander += [[gf256.power(gf256.EXP[i - 1], j) for j in range(k)] for i in range(1, n)]
    full = gf256.mat_mul(vander, gf256.mat_inv(vander[:k]))
    return tuple(tuple(r) for r in full)


@lru_cache(maxsize=256)
def _decode_matrix(k: int, m: int, present: tuple[int, ...]) -> gf256.Matrix:
    rows = [list(encoding_matrix(k, m)[i]) for i in present]
    return gf256.mat_inv(rows)


@dataclass
class ReedSolomon:
    """A k+m code. ``encode`` makes shards; ``decode`` rebuilds data from any k of them."""

    k: int = 4
    m: int = 2
    backend: Backend = "auto"
    _enc: object = field(default=None, init=False, repr=False)
    _dec: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.k >= 1 and self.m >= 0 and self.k + self.m <= 256):
            raise ErasureError(f"need 1 <= k, 0 <= m, k+m <= 256; got k={self.k} m={self.m}")
        if self.backend == "auto":
            self.backend = "zfec" if _zfec is not None else "numpy"
        if self.backend == "zfec":
            if _zfec is None:
                raise ErasureError("backend 'zfec' requested but zfec is not installed")
            if self.m:
                self._enc = _zfec.Encoder(self.k, self.k + self.m)
            self._dec = _zfec.Decoder(self.k, self.k + self.m)
        elif self.backend != "numpy":
            raise ErasureError(f"unknown erasure backend {self.backend!r}")

    @property
    def n(self) -> int:
        return self.k + self.m

    def shard_size(self, length: int) -> int:
        return max(1, -(-length // self.k))

    def split(self, data: bytes | bytearray | memoryview) -> list[bytes | memoryview]:
        """Cut ``data`` into k equal data shards, zero-padding the last. When no padding is
        needed the shards are views of ``data``, not copies."""
        size = self.shard_size(len(data))
        mv = memoryview(data)
        if len(mv) == size * self.k:
            return [mv[i * size:(i + 1) * size] for i in range(self.k)]
        shards = [bytes(mv[i * size:(i + 1) * size]) for i in range(self.k)]
        return [s if len(s) == size else s + bytes(size - len(s)) for s in shards]

    def encode(self, data: bytes | bytearray | memoryview) -> list[bytes | memoryview]:
        """All k+m shards of ``data`` (data shards first; views of ``data`` when it splits
        evenly, so the caller must not change ``data`` while it uses them)."""
        shards = self.split(data)
        return shards + self.parity(shards)

    def parity(self, shards: Sequence[bytes | memoryview]) -> list[bytes]:
        if self.m == 0:
            return []
        if self.backend == "zfec":
            return list(self._enc.encode(shards, list(range(self.k, self.n))))  # type: ignore[attr-defined]
        rows = [np.frombuffer(s, dtype=np.uint8) for s in shards]
        coeffs = [list(r) for r in encoding_matrix(self.k, self.m)[self.k:]]
        return [a.tobytes() for a in gf256.matmul_rows(coeffs, rows)]

    def data_shards(self, shards: dict[int, bytes]) -> list[bytes]:
        """The k data shards, rebuilt from any k entries of ``{index: shard}``."""
        if any(not 0 <= i < self.n for i in shards):
            raise ErasureError(f"shard index out of range 0..{self.n - 1}")
        if len(shards) < self.k:
            raise ErasureError(
                f"only {len(shards)} of the {self.k} shards needed are available")
        sizes = {len(s) for s in shards.values()}
        if len(sizes) != 1:
            raise ErasureError(f"shards differ in length: {sorted(sizes)}")
        if all(i in shards for i in range(self.k)):
            return [shards[i] for i in range(self.k)]  # systematic: no arithmetic needed
        # Prefer data shards: fewer rows to invert-multiply.
        present = tuple(sorted(shards, key=lambda i: (i >= self.k, i))[: self.k])
        if self.backend == "zfec":
            return list(self._dec.decode([shards[i] for i in present], list(present)))  # type: ignore[attr-defined]
        inv = _decode_matrix(self.k, self.m, tuple(present))
        rows = [np.frombuffer(shards[i], dtype=np.uint8) for i in present]
        need = [i for i in range(self.k) if i not in shards]
        rebuilt = dict(zip(need, gf256.matmul_rows([inv[i] for i in need], rows), strict=True))
        return [shards[i] if i in shards else rebuilt[i].tobytes() for i in range(self.k)]

    def decode(self, shards: dict[int, bytes], length: int) -> bytes:
        """The original ``length`` bytes, from any k shards."""
        data = b"".join(self.data_shards(shards))
        if length > len(data):
            raise ErasureError(f"stripe length {length} exceeds the shards' {len(data)} bytes")
        return data[:length]

    def reconstruct(self, shards: dict[int, bytes], wanted: list[int]) -> dict[int, bytes]:
        """Rebuild the shards at indices ``wanted`` (the healer's operation)."""
        data = self.data_shards(shards)
        parity = self.parity(data) if any(i >= self.k for i in wanted) else []
        full = data + parity
        return {i: full[i] for i in wanted}
