"""Checksums of multipart objects, as S3 defines them (``x-amz-checksum-type``).

* **COMPOSITE**: the checksum of the concatenated (binary) part checksums, with ``-N`` for N
  parts; any algorithm but CRC64NVME.
* **FULL_OBJECT**: the checksum of the whole object's bytes, as if it had been sent in one
  PUT; CRC algorithms only (the default for CRC64NVME). The parts are not read again: a CRC of
  ``A || B`` follows from ``crc(A)``, ``crc(B)`` and ``len(B)`` (zlib's ``crc32_combine``
  idea): feeding ``len(B)`` zero bytes through the CRC register is a linear map over GF(2),
  raised to the needed power by repeated squaring of its matrix.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

from cairn.objects.body import CHECKSUMS, s3err

COMPOSITE, FULL_OBJECT = "COMPOSITE", "FULL_OBJECT"


@dataclass(frozen=True)
class Crc:
    """A reflected CRC with all-ones init and final xor (true of CRC32, CRC32C, CRC64NVME:
    then the conditioning cancels out of the combination)."""

    width: int
    poly: int  # reflected


CRCS = {"crc32": Crc(32, 0xEDB88320), "crc32c": Crc(32, 0x82F63B78),
        "crc64nvme": Crc(64, 0x9A6C9329AC4BC9B5)}


def _apply(matrix: tuple[int, ...], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= matrix[i]
        vec >>= 1
        i += 1
    return out


def _square(matrix: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_apply(matrix, col) for col in matrix)


@functools.lru_cache(maxsize=8)
def _zero_byte_powers(crc: Crc) -> tuple[tuple[int, ...], ...]:
    """Matrices of 1, 2, 4, ... 2**63 zero bytes through the register."""
    one_bit = tuple([crc.poly] + [1 << (i - 1) for i in range(1, crc.width)])
    m = one_bit
    for _ in range(3):  # 8 bits
        m = _square(m)
    powers = [m]
    for _ in range(63):
        powers.append(_square(powers[-1]))
    return tuple(powers)


def crc_combine(algorithm: str, crc_a: int, crc_b: int, len_b: int) -> int:
    """``crc(A || B)`` from ``crc(A)``, ``crc(B)`` and the length of B in bytes."""
    powers = _zero_byte_powers(CRCS[algorithm])
    value, i = crc_a, 0
    while len_b:
        if len_b & 1:
            value = _apply(powers[i], value)
        len_b >>= 1
        i += 1
    return value ^ crc_b


def upload_type(algorithm: str, requested: str | None) -> str:
    """The checksum type of a new multipart upload (S3's defaults and allowed pairs)."""
    kind = requested.upper() if requested else (FULL_OBJECT if algorithm == "crc64nvme"
                                                else COMPOSITE)
    if kind not in (COMPOSITE, FULL_OBJECT):
        raise s3err("InvalidRequest", 400, f"Checksum type {requested!r} is not valid")
    if kind == FULL_OBJECT and algorithm not in CRCS:
        raise s3err("InvalidRequest", 400, f"The FULL_OBJECT checksum type cannot be used "
                    f"with the {algorithm.upper()} checksum algorithm")
    if kind == COMPOSITE and algorithm == "crc64nvme":
        raise s3err("InvalidRequest", 400, "The COMPOSITE checksum type cannot be used with "
                    "the CRC64NVME checksum algorithm")
    return kind


def multipart_checksum(algorithm: str, kind: str, parts: list[tuple[str, int]]) -> str:
    """The object's checksum from its parts' (base64 checksum, size)."""
    raws = [base64.b64decode(value) for value, _ in parts]
    if kind == COMPOSITE:
        h = CHECKSUMS[algorithm]()
        for raw in raws:
            h.update(raw)
        return base64.b64encode(h.digest()).decode() + f"-{len(parts)}"
    width = CRCS[algorithm].width // 8
    value = int.from_bytes(raws[0], "big")
    for raw, (_, size) in zip(raws[1:], parts[1:], strict=True):
        value = crc_combine(algorithm, value, int.from_bytes(raw, "big"), size)
    return base64.b64encode(value.to_bytes(width, "big")).decode()
