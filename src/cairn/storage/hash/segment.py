"""Bitcask segment files: naming, the record format, and the recovery scan of one segment.

A segment is an append-only file of self-checking records (DDIA ch. 3, "Hash Indexes"; the
Bitcask paper's data files). Every record carries its own CRC-32C, so a point read verifies
exactly the bytes it fetched with one ``pread``::

    record := flags:u8  klen:u32  vlen:u32  key[klen]  value[vlen]  crc:u32   (little-endian)

``crc`` is the CRC-32C of everything before it (flags .. value). Stored little-endian at the
end, it makes the CRC-32C of the *whole* record a constant (``RESIDUE``, the CRC's "magic
check" value), so a reader verifies a record with one checksum call and no slicing.

``flags`` bit 0 marks a tombstone (``vlen`` = 0); bit 1 (``MORE``) says "the batch continues
with the next record": the last record of a ``write_batch`` has it clear, so recovery applies
a batch only when its final record is intact, and a batch cut by a crash is dropped whole
(atomic batches without a separate commit record). A batch never spans two segments.

Segment names sort in replay order. Normal segments are ``seg-<id>.data`` with sort key
``(id, 0)``; the outputs of a merge whose newest input was segment ``C`` are
``seg-<C>-<k>.data`` with sort key ``(C, k)``, ``k >= 1``: they replace every segment up to
``C`` and sort before every segment written after the merge started.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

# The C function itself, not cairn.storage.checksum's wrapper: it is on every get and put.
from crc32c import crc32c

from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import File, FileSystem

HEADER = struct.Struct("<BII")  # flags, klen, vlen
CRC = struct.Struct("<I")
HEADER_SIZE = HEADER.size  # 9
OVERHEAD = HEADER_SIZE + CRC.size  # 13 bytes of framing per record
RESIDUE = 0x48674BC7  # CRC-32C of any message followed by its own CRC-32C (little-endian)
TOMBSTONE = 0x01
MORE = 0x02
KNOWN_FLAGS = TOMBSTONE | MORE

NO_VIEW: tuple[mmap.mmap | None, int] = (None, 0)
REMAP_MIN = 1 << 20  # remap when at least this much (or 1/16 of the view) was flushed since
_NAME = re.compile(r"^seg-(\d{12})(?:-(\d{5}))?\.(data|hint)$")


def segment_name(seg_id: int, sub: int = 0) -> str:
    return f"seg-{seg_id:012d}.data" if sub == 0 else f"seg-{seg_id:012d}-{sub:05d}.data"


def hint_name(seg_id: int, sub: int) -> str:
    return segment_name(seg_id, sub)[: -len(".data")] + ".hint"


def parse_name(name: str) -> tuple[int, int, str] | None:
    """``(id, sub, "data" | "hint")`` for a segment or hint file name, else ``None``."""
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2) or 0), m.group(3)


@dataclass(eq=False, slots=True)
class Segment:
    """One open segment file.

    ``direct_limit``: a record starting below it may be read with a plain ``os.pread`` on
    ``fd``, without a lock: the append buffer only ever holds whole records and is flushed
    whole, so such a record is out of it, and the file system reads with plain ``os.pread``
    (``direct``). On a fault-injecting file system it stays -1, so every
    read goes through the File and the fault seam sees it.

    ``view``: ``(mmap, length)``, a read-only memory map of the file's first ``length`` bytes
    (all flushed, all whole records), so a get of a record inside it is a slice: no syscall,
    where ``os.pread`` costs about a microsecond, a third of a get (LMDB reads the same way;
    Bitcask preads). The pair is replaced, never changed, so a reader that loaded it slices a
    map that stays valid; an old map is never closed explicitly (a reader may be slicing
    it), only dropped, and unmapped when its last reference goes."""

    id: int
    sub: int
    path: str
    file: File
    direct: bool
    fd: int = field(init=False)
    direct_limit: int = -1
    sid: int = -1  # index in the SegmentTable: what key-directory entries refer to
    dead: int = 0  # bytes of superseded records and tombstones (what a merge reclaims)
    hint_bytes: int = 0  # size of this segment's hint file, if any
    hint_path: str | None = None
    view: tuple[mmap.mmap | None, int] = NO_VIEW

    def __post_init__(self) -> None:
        self.fd = self.file.fd
        self.mark_flushed()

    def mark_flushed(self) -> None:
        """Call right after the File was flushed (its append buffer is empty)."""
        if self.direct:
            self.direct_limit = self.file.size

    def remap(self) -> bool:
        """Map the flushed part of the file if it grew enough since the last map (a get that
        missed the view calls this); False when it did not remap."""
        limit = self.direct_limit
        old = self.view[1]
        if limit <= 0 or limit - old < max(REMAP_MIN, old >> 4):
            return False
        try:
            view = mmap.mmap(self.fd, limit, prot=mmap.PROT_READ)
        except (OSError, ValueError):  # closed under us, or no address space: pread instead
            return False
        self.view = (view, limit)
        return True

    def close(self) -> None:
        """Close the file; first drop the map, so no new read goes through it (see ``view``)."""
        self.view = NO_VIEW
        self.file.close()

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.id, self.sub)

    @property
    def merged(self) -> bool:
        return self.sub != 0

    @property
    def size(self) -> int:
        return self.file.size

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


class SegmentTable:
    """``sid -> Segment``. Key-directory entries name their segment by this small integer, so
    an entry is a tuple of three ints, which CPython's cyclic GC stops tracking; a tuple
    holding a Segment would stay tracked, and every full collection would walk all of them
    (measured: 10-20% of a 200,000-key load). Slots are never reused, so an entry can never
    silently name a different segment."""

    __slots__ = ("_lock", "by_sid")

    def __init__(self) -> None:
        self.by_sid: list[Segment] = []  # appended to only, so readers index it lock-free
        self._lock = threading.Lock()

    def add(self, seg: Segment) -> Segment:
        with self._lock:
            seg.sid = len(self.by_sid)
            self.by_sid.append(seg)
        return seg


def uses_plain_pread(fs: FileSystem) -> bool:
    """Whether ``fs`` reads with plain ``os.pread`` (no fault injection on reads)."""
    cls = type(fs)
    return cls._pread is FileSystem._pread and cls._pread_all is FileSystem._pread_all


def encode_put(key: bytes, value: bytes, flags: int = 0) -> bytes:
    body = HEADER.pack(flags, len(key), len(value)) + key + value
    return body + CRC.pack(crc32c(body))


def encode_delete(key: bytes, flags: int = 0) -> bytes:
    body = HEADER.pack(flags | TOMBSTONE, len(key), 0) + key
    return body + CRC.pack(crc32c(body))


@dataclass
class SegmentScan:
    """What scanning one segment found."""

    valid_end: int = 0  # offset just past the last committed record
    torn: bool = False  # bytes after valid_end are a torn tail (or an unfinished batch)
    records: int = 0


def _record_ok(data: bytes | memoryview, pos: int, max_key: int) -> int:
    """Length of a valid record at ``pos``, or -1."""
    n = len(data)
    if pos + OVERHEAD > n:
        return -1
    flags, klen, vlen = HEADER.unpack_from(data, pos)
    end = pos + OVERHEAD + klen + vlen
    if flags & ~KNOWN_FLAGS or klen == 0 or klen > max_key or end > n:
        return -1
    if flags & TOMBSTONE and vlen:
        return -1
    if crc32c(data[pos:end]) != RESIDUE:
        return -1
    return end - pos


def scan_segment(data: bytes, path: str, max_key: int,
                 result: SegmentScan) -> Iterator[tuple[int, int, bytes, int]]:
    """Yield ``(offset, flags, key, record_length)`` for every record of a *committed* batch.

    A record that fails its checksum at the very end of the file (nothing valid after it) is a
    torn tail: the scan stops and reports it in ``result``, and so does a batch whose final
    record never made it. A bad record followed by a valid one is damage to acknowledged data
    and raises :class:`CorruptionError` with the file and offset.
    """
    pos = 0
    n = len(data)
    view = memoryview(data)
    unpack = HEADER.unpack_from
    pending: list[tuple[int, int, bytes, int]] = []
    batch_start = 0
    while pos < n:
        ok = pos + OVERHEAD <= n
        if ok:
            flags, klen, vlen = unpack(data, pos)
            kstart = pos + HEADER_SIZE
            end = kstart + klen + vlen + 4
            ok = (end <= n and 0 < klen <= max_key and not flags & ~KNOWN_FLAGS
                  and not (flags & TOMBSTONE and vlen)
                  and crc32c(view[pos:end]) == RESIDUE)
        if not ok:
            _check_torn(data, pos, path, max_key)
            result.valid_end = batch_start
            result.torn = True
            return
        if not pending:
            batch_start = pos
        pending.append((pos, flags, data[kstart:kstart + klen], end - pos))
        pos = end
        if not flags & MORE:
            result.records += len(pending)
            yield from pending
            pending = []
            batch_start = pos
    result.valid_end = batch_start
    result.torn = bool(pending)


def _check_torn(data: bytes, pos: int, path: str, max_key: int) -> None:
    """Raise :class:`CorruptionError` unless no valid record follows ``pos`` (a torn tail)."""
    n = len(data)
    view = memoryview(data)
    # Fast path: a damaged value with an intact header still says where the next record is.
    if pos + OVERHEAD <= n:
        _flags, klen, vlen = HEADER.unpack_from(data, pos)
        nxt = pos + OVERHEAD + klen + vlen
        if nxt < n and _record_ok(view, nxt, max_key) > 0:
            raise CorruptionError("segment record failed its checksum before valid data",
                                  path=path, offset=pos)
    # Probe every later offset that could start a record. A key is shorter than 64 KiB, so
    # the two high bytes of klen (offsets 3 and 4 of a record) are zero: bytes.find jumps
    # between such candidates in C instead of trying every offset in Python.
    probe = pos + 1
    while True:
        hit = data.find(b"\x00\x00", probe + 3)
        if hit < 0 or hit - 3 + OVERHEAD > n:
            return
        probe = hit - 3
        if not data[probe + 1] and not data[probe + 2]:
            # Inside a run of zeros (a crash can leave zero-filled blocks): klen >= 1 needs a
            # nonzero byte at offset 1 or 2, so skip to two bytes before the run ends, in C.
            run_end = probe + 1
            while run_end < n:
                window = data[run_end:run_end + 4096]
                stripped = len(window) - len(window.lstrip(b"\x00"))
                run_end += stripped
                if stripped < len(window):
                    break
            probe = max(probe + 1, run_end - 2)
            continue
        if _record_ok(view, probe, max_key) > 0:
            raise CorruptionError("segment record failed its checksum before valid data",
                                  path=path, offset=pos)
        probe += 1
