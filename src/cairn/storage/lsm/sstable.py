"""Sorted String Tables: the immutable files of the LSM-tree (DDIA ch. 3, "SSTables and
LSM-Trees"; the layout follows LevelDB's table format in spirit, not byte for byte).

An SSTable is written once, front to back, from entries already in key order, then only read.
Layout (little-endian)::

    data block 0 | trailer        blocks of ~block_size raw bytes, in key order
    ...
    data block n-1 | trailer
    index block | trailer         the sparse index: last key, offset, size of every data block
    bloom block | trailer         bloom.BloomFilter.encode()
    props block | trailer         JSON: entry counts, key range, options used
    footer (52 bytes)

    trailer := type:u8 (0 raw, 1 lz4, 2 zstd)  crc:u32 (masked CRC-32C of stored bytes + type)
    footer  := index_off:u64 index_len:u32 bloom_off:u64 bloom_len:u32 props_off:u64
               props_len:u32 footer_crc:u32 format:u32 magic:u64
               (lengths exclude trailers; footer_crc covers the 36 bytes before it)

    data block (before compression) :=
        count:u32  key_end[count]:u32  value_end[count]:u32  kind[count]:u8  keys  values
        (``*_end`` are cumulative offsets into the keys / values blobs; kind 1 = tombstone)
    index block := count:u32  key_end[count]:u32  offset[count]:u64  size[count]:u32  keys

The offset arrays let a reader decode a whole block with two ``struct.unpack_from`` calls and
list slicing instead of a parse loop per entry. Each block is compressed on its own (so a point
read decompresses one block), and stored raw when compression saves less than 1/8 (as LevelDB
does for incompressible data). Every block is checksummed: a mismatch raises
:class:`CorruptionError` naming the file and offset.
"""

from __future__ import annotations

import contextlib
import json
import struct
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from operator import add
from typing import Any

import lz4.block
import zstandard

from cairn.storage.checksum import crc32c, mask, unmask
from cairn.storage.errors import CorruptionError, StorageError
from cairn.storage.fileio import File, FileSystem
from cairn.storage.lsm.bloom import BloomFilter

MAGIC = 0x4E52494143545353  # b"SSTCAIRN" read as little-endian u64
TABLE_FORMAT = 1
FOOTER = struct.Struct("<QIQIQIIIQ")
FOOTER_CRC_SPAN = 36  # bytes of the footer covered by footer_crc
TRAILER = struct.Struct("<BI")
U32 = struct.Struct("<I")

RAW, LZ4, ZSTD = 0, 1, 2
COMPRESSIONS = {"none": RAW, "lz4": LZ4, "zstd": ZSTD}

Entry = tuple[bytes, bytes | None]  # (key, value); value None = tombstone
# A decoded data block: keys, values (None = tombstone), and key -> value.
Block = tuple[list[bytes], list[bytes | None], dict[bytes, bytes | None]]


class Codec:
    """Block compression. zstd contexts are not thread-safe, so each Codec owns its own."""

    def __init__(self, name: str, zstd_level: int = 3):
        if name not in COMPRESSIONS:
            raise StorageError(f"unknown compression {name!r}; choose one of "
                               f"{', '.join(COMPRESSIONS)}")
        self.kind = COMPRESSIONS[name]
        self._zc = zstandard.ZstdCompressor(level=zstd_level) if self.kind == ZSTD else None

    def compress(self, raw: bytes) -> tuple[bytes, int]:
        if self.kind == LZ4:
            out = lz4.block.compress(raw, store_size=True)
        elif self.kind == ZSTD and self._zc is not None:
            out = self._zc.compress(raw)
        else:
            return raw, RAW
        if len(out) > len(raw) - len(raw) // 8:
            return raw, RAW  # not worth a decompression on every read
        return out, self.kind


def decompress(data: bytes, kind: int, path: str, offset: int) -> bytes:
    try:
        if kind == RAW:
            return data
        if kind == LZ4:
            return lz4.block.decompress(data)
        if kind == ZSTD:
            return zstandard.ZstdDecompressor().decompress(data)
    except Exception as exc:  # a checksummed block that fails to inflate is still damage
        raise CorruptionError(f"block does not decompress: {exc}", path=path,
                              offset=offset) from exc
    raise CorruptionError(f"unknown block compression type {kind}", path=path, offset=offset)


# -- block encoding --------------------------------------------------------------------------
def encode_block(keys: list[bytes], values: list[bytes | None]) -> bytes:
    n = len(keys)
    kends: list[int] = []
    vends: list[int] = []
    kpos = vpos = 0
    kinds = bytearray(n)
    vals: list[bytes] = []
    for i, (k, v) in enumerate(zip(keys, values, strict=True)):
        kpos += len(k)
        kends.append(kpos)
        if v is None:
            kinds[i] = 1
        else:
            vpos += len(v)
            vals.append(v)
        vends.append(vpos)
    head = struct.pack(f"<{1 + 2 * n}I", n, *kends, *vends)
    return b"".join((head, kinds, b"".join(keys), b"".join(vals)))


def decode_block(raw: bytes, path: str, offset: int
                 ) -> tuple[list[bytes], list[bytes | None]]:
    try:
        n = U32.unpack_from(raw, 0)[0]
        ends = struct.unpack_from(f"<{2 * n}I", raw, 4)
    except struct.error as exc:
        raise CorruptionError(f"malformed data block: {exc}", path=path, offset=offset) from exc
    kinds_at = 4 + 8 * n
    kb_at = kinds_at + n
    kend = ends[:n]
    vend = ends[n:]
    ktotal = kend[-1] if n else 0
    vtotal = vend[-1] if n else 0
    if kb_at + ktotal + vtotal != len(raw):
        raise CorruptionError("data block lengths do not add up", path=path, offset=offset)
    kblob = raw[kb_at:kb_at + ktotal]
    vblob = raw[kb_at + ktotal:]
    keys = [kblob[a:b] for a, b in zip((0, *kend[:-1]), kend, strict=False)]
    values: list[bytes | None] = [vblob[a:b] for a, b in zip((0, *vend[:-1]), vend, strict=False)]
    kinds = raw[kinds_at:kb_at]
    if 1 in kinds:
        for i, kind in enumerate(kinds):
            if kind:
                values[i] = None
    return keys, values


# What a decoded block really costs in memory beyond its raw bytes: per entry two bytes-object
# headers (33 bytes each, rounded up by the allocator), two list slots and a dict entry; per
# block three containers. Calibrated with tracemalloc (16-byte keys, 100-byte values: a
# 4,129-byte block costs ~7,975 bytes decoded, the estimate 8,109; tests/storage keeps it within
# 25 %). The cache charges this, not the raw size, so ``block_cache_bytes`` is real memory.
DECODED_ENTRY_OVERHEAD = 110
DECODED_BLOCK_OVERHEAD = 350


def decoded_size(raw_size: int, entries: int) -> int:
    """Estimated memory of a decoded, cached block whose raw (uncompressed) form is
    ``raw_size`` bytes holding ``entries`` entries."""
    return raw_size + entries * DECODED_ENTRY_OVERHEAD + DECODED_BLOCK_OVERHEAD


RAW_OVERHEAD = 33  # a raw block is one bytes object


def raw_lookup(raw: bytes, key: bytes, path: str, offset: int) -> tuple[bool, bytes | None]:
    """Search a raw (uncompressed) data block for ``key`` without decoding it: ``(found,
    value)``, a tombstone being ``(True, None)``.

    The keys sit back to back in one blob, so ``bytes.find`` locates the key's bytes in C and
    ``tuple.index`` on the key-end offsets confirms, also in C, that the hit starts an entry and
    has the key's length (a hit spanning two keys is skipped and the search goes on). A point
    read that misses the cache thus costs a read, a checksum, a decompression and two C
    searches, not ~30 Python objects."""
    try:
        n = U32.unpack_from(raw, 0)[0]
        ends = struct.unpack_from(f"<{2 * n}I", raw, 4)
    except struct.error as exc:
        raise CorruptionError(f"malformed data block: {exc}", path=path, offset=offset) from exc
    if not n:
        return False, None
    kb_at = 4 + 9 * n
    ktotal = ends[n - 1]
    vb_at = kb_at + ktotal
    if vb_at + ends[-1] != len(raw):
        raise CorruptionError("data block lengths do not add up", path=path, offset=offset)
    klen = len(key)
    hit = raw.find(key, kb_at, vb_at)
    while hit >= 0:
        rel = hit - kb_at
        if rel == 0:
            i = 0
        else:
            try:
                i = ends.index(rel, 0, n - 1) + 1  # rel is where key i - 1 ends
            except ValueError:
                i = -1
        if i >= 0 and ends[i] - rel == klen:
            if raw[4 + 8 * n + i]:
                return True, None
            vstart = ends[n + i - 1] if i else 0
            return True, raw[vb_at + vstart:vb_at + ends[n + i]]
        hit = raw.find(key, hit + 1, vb_at)
    return False, None


def make_block(keys: list[bytes], values: list[bytes | None]) -> Block:
    """The cached form of a block: lists in key order for scans, and a dict so that a point
    read is one hash lookup instead of a binary search of bytes comparisons."""
    return keys, values, dict(zip(keys, values, strict=True))


def encode_index(last_keys: list[bytes], offsets: list[int], sizes: list[int]) -> bytes:
    n = len(last_keys)
    kends: list[int] = []
    pos = 0
    for k in last_keys:
        pos += len(k)
        kends.append(pos)
    return (struct.pack(f"<{1 + n}I", n, *kends) + struct.pack(f"<{n}Q", *offsets)
            + struct.pack(f"<{n}I", *sizes) + b"".join(last_keys))


def decode_index(raw: bytes, path: str, offset: int) -> tuple[list[bytes], list[int], list[int]]:
    try:
        n = U32.unpack_from(raw, 0)[0]
        kend = struct.unpack_from(f"<{n}I", raw, 4)
        offsets = list(struct.unpack_from(f"<{n}Q", raw, 4 + 4 * n))
        sizes = list(struct.unpack_from(f"<{n}I", raw, 4 + 12 * n))
    except struct.error as exc:
        raise CorruptionError(f"malformed index block: {exc}", path=path, offset=offset) from exc
    kb = raw[4 + 16 * n:]
    if n and kend[-1] != len(kb):
        raise CorruptionError("index block lengths do not add up", path=path, offset=offset)
    keys = [kb[a:b] for a, b in zip((0, *kend[:-1]), kend, strict=False)]
    return keys, offsets, sizes


# -- writing ---------------------------------------------------------------------------------
ENTRY_OVERHEAD = 9  # bytes a data block spends per entry besides key and value


def cumulative_sizes(keys: list[bytes], values: list[bytes | None]) -> list[int]:
    """Running total of the block bytes of ``keys[:i+1]`` (C-level maps, no Python loop)."""
    sized = values if None not in values else [b"" if v is None else v for v in values]
    return list(accumulate(map(ENTRY_OVERHEAD.__add__,
                               map(add, map(len, keys), map(len, sized)))))  # type: ignore[arg-type]
@dataclass
class TableInfo:
    """What the writer learned about the table it wrote (goes into the manifest)."""

    size: int
    entries: int
    tombstones: int
    smallest: bytes
    largest: bytes
    live_bytes: int  # key + value bytes of the puts


class TableWriter:
    """Writes one SSTable from entries given in strictly increasing key order."""

    def __init__(self, fs: FileSystem, path: str, *, block_size: int, bits_per_key: float,
                 codec: Codec, keep_blocks: bool = False, number: int = 0):
        self.number = number  # the table's file number (for the caller's bookkeeping)
        self.fs = fs
        self.path = path
        self.block_size = block_size
        self.bits_per_key = bits_per_key
        self.codec = codec
        self.file: File = fs.open(path, truncate=True)
        self._keys: list[bytes] = []
        self._values: list[bytes | None] = []
        self._block_bytes = 0
        self._all_keys: list[bytes] = []
        self._index_keys: list[bytes] = []
        self._index_offsets: list[int] = []
        self._index_sizes: list[int] = []
        self.entries = 0
        self.tombstones = 0
        self.live_bytes = 0
        self._last: bytes | None = None
        # Blocks as written, for warming the block cache after a flush (RocksDB's
        # prepopulate_block_cache): (keys, values, raw size).
        self.keep_blocks = keep_blocks
        self.blocks: list[tuple[list[bytes], list[bytes | None], int]] = []

    @property
    def estimated_size(self) -> int:
        return self.file.size + self._block_bytes

    def add(self, key: bytes, value: bytes | None) -> bool:
        """Add an entry; ``True`` when it completed a data block (a safe point to roll over
        to a new table)."""
        self._keys.append(key)
        self._values.append(value)
        if value is None:
            self._block_bytes += len(key) + 9
            self.tombstones += 1
        else:
            self._block_bytes += len(key) + len(value) + 9
            self.live_bytes += len(key) + len(value)
        self.entries += 1
        if self._block_bytes >= self.block_size:
            self._finish_block()
            return True
        return False

    def add_all(self, items: Iterable[Entry]) -> None:
        for key, value in items:
            self.add(key, value)

    def add_run(self, keys: list[bytes], values: list[bytes | None], cum: list[int],
                start: int = 0, max_bytes: int | None = None) -> int:
        """Append ``keys[start:]`` (sorted, after anything added before) in bulk: block
        boundaries come from ``cum = cumulative_sizes(keys, values)`` by binary search, so the
        per-entry work is C-level slicing instead of a Python call per entry. Stops at the first
        block boundary past ``max_bytes`` raw bytes; returns the index it stopped at."""
        if self._keys:
            self._finish_block()
        n = len(keys)
        base = first = cum[start - 1] if start else 0
        i = start
        bs = self.block_size
        while i < n:
            end = min(n, bisect_left(cum, base + bs, i) + 1)
            self._keys = keys[i:end]
            self._values = values[i:end]
            self._finish_block()
            base = cum[end - 1]
            i = end
            if max_bytes is not None and base - first >= max_bytes:
                break
        count = i - start
        part = values[start:i]
        tombs = part.count(None)
        self.entries += count
        self.tombstones += tombs
        live = base - first - ENTRY_OVERHEAD * count
        if tombs:
            live -= sum(len(k) for k, v in zip(keys[start:i], part, strict=True) if v is None)
        self.live_bytes += live
        return i

    def _write_block(self, raw: bytes) -> tuple[int, int]:
        data, kind = self.codec.compress(raw)
        trailer = TRAILER.pack(kind, mask(crc32c(data + bytes([kind]))))
        offset = self.file.append(data + trailer)
        return offset, len(data)

    def _finish_block(self) -> None:
        if not self._keys:
            return
        keys = self._keys
        if self._last is not None and keys[0] <= self._last:
            raise StorageError(f"SSTable keys out of order in {self.path}")
        self._last = keys[-1]
        raw = encode_block(keys, self._values)
        offset, size = self._write_block(raw)
        if self.keep_blocks:
            self.blocks.append((keys, self._values, len(raw)))
        self._index_keys.append(keys[-1])
        self._index_offsets.append(offset)
        self._index_sizes.append(size)
        self._all_keys.extend(keys)
        self._keys = []
        self._values = []
        self._block_bytes = 0

    def finish(self) -> TableInfo:
        """Write index, filter, properties and footer; fsync. The caller syncs the directory."""
        self._finish_block()
        if not self._all_keys:
            raise StorageError("an SSTable needs at least one entry")
        index_off, index_len = self._write_block(
            encode_index(self._index_keys, self._index_offsets, self._index_sizes))
        bloom = BloomFilter.build(self._all_keys, self.bits_per_key)
        bloom_off, bloom_len = self._write_block(bloom.encode())
        props = {"format": TABLE_FORMAT, "entries": self.entries, "tombstones": self.tombstones,
                 "blocks": len(self._index_keys), "bits_per_key": self.bits_per_key,
                 "bloom_probes": bloom.k, "compression": self.codec.kind,
                 "smallest": self._all_keys[0].hex(), "largest": self._all_keys[-1].hex(),
                 "live_bytes": self.live_bytes}
        props_off, props_len = self._write_block(json.dumps(props).encode())
        head = FOOTER.pack(index_off, index_len, bloom_off, bloom_len, props_off, props_len,
                           0, TABLE_FORMAT, MAGIC)
        crc = mask(crc32c(head[:FOOTER_CRC_SPAN]))
        self.file.append(FOOTER.pack(index_off, index_len, bloom_off, bloom_len, props_off,
                                     props_len, crc, TABLE_FORMAT, MAGIC))
        self.file.sync()
        size = self.file.size
        self.file.close()
        return TableInfo(size, self.entries, self.tombstones, self._all_keys[0],
                         self._all_keys[-1], self.live_bytes)

    def abandon(self) -> None:
        """Give up on a half-written table (the file is removed by the caller)."""
        with contextlib.suppress(Exception):
            self.file.close()


# -- the block cache -------------------------------------------------------------------------
class BlockCache:
    """A bounded cache of *decoded* data blocks, shared by all tables of an engine, evicting by
    CLOCK (second chance), as PostgreSQL's buffer pool does.

    Caching decoded blocks (not raw bytes, as RocksDB does) saves both the decompression and the
    decode on a hit, which is what matters when the decoder is Python. Capacity counts what a
    decoded block really occupies (:func:`decoded_size`: about twice its raw bytes for small
    entries), so the cache's bound is real memory. Keys are ints, ``table_number << 32 |
    block_index``; entries are ``[block, size, referenced]``. Index and bloom blocks are not
    in this cache: every open table keeps them in memory (pinned, RocksDB's default with
    ``cache_index_and_filter_blocks=false``), counted in ``stats().extra`` as
    ``index_filter_bytes``.

    Why CLOCK and not LRU: an LRU hit must move the entry to the front (``move_to_end``), a
    second C call and a write to a shared linked list on every read; a CLOCK hit only sets the
    entry's reference bit. Eviction walks the entries oldest first (a dict keeps insertion
    order), gives a referenced entry a second chance (clears its bit, moves it to the back) and
    evicts the first unreferenced one. A hit takes no lock (``dict.get`` and a list store are
    atomic under the GIL); inserts and evictions lock.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        # An OrderedDict, not a dict: taking the oldest entry of a plain dict that has had many
        # entries popped from its front walks over their dead slots (next(iter(d)) is O(dead
        # slots) until the dict resizes), which made every cache miss cost ~100 us once the
        # data outgrew the cache; popitem(last=False) is O(1).
        self._map: OrderedDict[int, list] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # approximate under concurrent readers (unlocked counters)
        self.misses = 0

    def get(self, key: int) -> Block | None:
        entry = self._map.get(key)
        if entry is None:
            self.misses += 1
            return None
        entry[2] = True
        self.hits += 1
        return entry[0]  # type: ignore[no-any-return]

    def put(self, key: int, block: Block, size: int) -> None:
        if size > self.capacity:
            return
        with self._lock:
            m = self._map
            if key in m:
                return
            m[key] = [block, size, False]
            self.used += size
            while self.used > self.capacity:
                k, entry = m.popitem(last=False)
                if k == key or entry[2]:
                    # Second chance: to the back of the clock with the bit cleared. The block
                    # being inserted is never its own victim (others exist: size <= capacity).
                    entry[2] = False
                    m[k] = entry
                else:
                    self.used -= entry[1]

    def replace(self, key: int, block: Block, size: int) -> None:
        """Swap a cached raw block for its decoded form (recharged at its new size)."""
        with self._lock:
            entry = self._map.get(key)
            if entry is None:
                return
            self.used += size - entry[1]
            entry[0] = block
            entry[1] = size
            m = self._map
            while self.used > self.capacity and len(m) > 1:
                k, old = m.popitem(last=False)
                if k == key or old[2]:
                    old[2] = False
                    m[k] = old
                else:
                    self.used -= old[1]

    def evict_table(self, number: int) -> None:
        with self._lock:
            for key in [k for k in self._map if k >> 32 == number]:
                self.used -= self._map.pop(key)[1]


# -- reading ---------------------------------------------------------------------------------
@dataclass(eq=False)
class TableReader:
    """An open SSTable: index and bloom filter in memory, data blocks read on demand."""

    number: int
    path: str
    file: File
    cache: BlockCache
    index_keys: list[bytes]
    index_offsets: list[int]
    index_sizes: list[int]
    bloom: BloomFilter
    props: dict[str, Any]
    size: int
    block_reads: int = 0
    bytes_read: int = 0  # stored bytes of the blocks read for lookups and scans (not compaction)
    lo: bytes = b""  # smallest key (attribute, not property: read on every lookup)
    hi: bytes = b""  # largest key
    nblocks: int = 0
    cache_base: int = 0  # number << 32: block cache keys are cache_base + block index
    bloom_bits: bytes = b""
    bloom_m: int = 0
    bloom_probes: range = range(0)

    def __post_init__(self) -> None:
        self.lo = bytes.fromhex(self.props["smallest"])
        self.hi = self.index_keys[-1]
        self.nblocks = len(self.index_keys)
        self.cache_base = self.number << 32
        # The filter's parts as plain attributes: the engine's get reads them per probe.
        self.bloom_bits = self.bloom.bits
        self.bloom_m = len(self.bloom.bits) << 3
        self.bloom_probes = range(self.bloom.k)

    @property
    def index_filter_bytes(self) -> int:
        """Memory of the pinned index and bloom filter (keys, offset lists, filter bits)."""
        keys = sum(len(k) for k in self.index_keys) + 33 * len(self.index_keys)
        return keys + 40 * len(self.index_keys) + len(self.bloom_bits)

    def prepopulate(self, blocks: list[tuple[list[bytes], list[bytes | None], int]]) -> None:
        """Put the blocks just written into the cache (they are decoded already)."""
        for i, (keys, values, size) in enumerate(blocks):
            self.cache.put(self.cache_base + i, make_block(keys, values),
                           decoded_size(size, len(keys)))

    @classmethod
    def open(cls, fs: FileSystem, path: str, number: int, cache: BlockCache) -> TableReader:
        f = fs.open(path, create=False)
        try:
            return cls._load(f, path, number, cache)
        except BaseException:
            f.close()
            raise

    @classmethod
    def _load(cls, f: File, path: str, number: int, cache: BlockCache) -> TableReader:
        size = f.size
        if size < FOOTER.size:
            raise CorruptionError(f"SSTable too short ({size} bytes)", path=path, offset=0)
        foot_at = size - FOOTER.size
        raw = f.read_at(foot_at, FOOTER.size)
        (index_off, index_len, bloom_off, bloom_len, props_off, props_len, crc, fmt,
         magic) = FOOTER.unpack(raw)
        if magic != MAGIC:
            raise CorruptionError("bad SSTable magic (not an SSTable or truncated)", path=path,
                                  offset=foot_at)
        if unmask(crc) != crc32c(raw[:FOOTER_CRC_SPAN]):
            raise CorruptionError("SSTable footer checksum mismatch", path=path, offset=foot_at)
        if fmt > TABLE_FORMAT:
            raise CorruptionError(f"SSTable format {fmt} is newer than this reader", path=path,
                                  offset=foot_at)
        for off, length in ((index_off, index_len), (bloom_off, bloom_len),
                            (props_off, props_len)):
            if off + length + TRAILER.size > foot_at:
                raise CorruptionError("SSTable footer points past the end", path=path,
                                      offset=foot_at)
        index = read_block(f, path, index_off, index_len)
        keys, offsets, sizes = decode_index(index, path, index_off)
        bloom = BloomFilter.decode(read_block(f, path, bloom_off, bloom_len), path, bloom_off)
        try:
            props = json.loads(read_block(f, path, props_off, props_len))
        except ValueError as exc:
            raise CorruptionError(f"SSTable properties unreadable: {exc}", path=path,
                                  offset=props_off) from exc
        if not isinstance(props, dict) or not isinstance(props.get("smallest"), str) or not keys:
            raise CorruptionError("SSTable properties incomplete", path=path, offset=props_off)
        try:
            bytes.fromhex(props["smallest"])
        except ValueError as exc:
            raise CorruptionError("SSTable smallest key unreadable", path=path,
                                  offset=props_off) from exc
        return cls(number, path, f, cache, keys, offsets, sizes, bloom, props, size)

    def lookup(self, i: int, key: bytes) -> tuple[bool, bytes | None]:
        """A point read that missed the cache on block ``i``: read it, cache its raw bytes
        (charged at their size) and search them in place (:func:`raw_lookup`). A second read
        of the block decodes it (:meth:`promote`): blocks read once stay cheap, hot ones get
        the dict."""
        off = self.index_offsets[i]
        raw = read_block(self.file, self.path, off, self.index_sizes[i])
        self.block_reads += 1
        self.bytes_read += self.index_sizes[i] + TRAILER.size
        self.cache.misses += 1
        self.cache.put(self.cache_base + i, raw, len(raw) + RAW_OVERHEAD)  # type: ignore[arg-type]
        return raw_lookup(raw, key, self.path, off)

    def promote(self, i: int, raw: bytes) -> Block:
        """Decode a cached raw block and cache the decoded form in its place."""
        keys, values = decode_block(raw, self.path, self.index_offsets[i])
        blk = make_block(keys, values)
        self.cache.replace(self.cache_base + i, blk, decoded_size(len(raw), len(keys)))
        return blk

    def block(self, i: int, fill_cache: bool = True) -> Block:
        cache = self.cache
        key = self.number << 32 | i
        blk = cache.get(key)
        if type(blk) is bytes:  # cached raw by a point read
            return self.promote(i, blk) if fill_cache else make_block(
                *decode_block(blk, self.path, self.index_offsets[i]))
        if blk is None:
            off = self.index_offsets[i]
            raw = read_block(self.file, self.path, off, self.index_sizes[i])
            keys, values = decode_block(raw, self.path, off)
            self.block_reads += 1
            if fill_cache:
                self.bytes_read += self.index_sizes[i] + TRAILER.size
                blk = make_block(keys, values)
                cache.put(key, blk, decoded_size(len(raw), len(keys)))
            else:
                # Compaction and stats read every block once: caching them would evict hot
                # ones, and nobody will look keys up in this copy, so skip building its dict.
                blk = (keys, values, {})
        return blk

    def get(self, key: bytes) -> tuple[bool, bytes | None]:
        """``(found, value)``; a tombstone is ``(True, None)``. The bloom filter is checked by
        the caller (it shares one key hash across all tables)."""
        i = bisect_left(self.index_keys, key)
        if i == len(self.index_keys):
            return False, None
        v = self.block(i)[2].get(key, self)
        if v is self:
            return False, None
        return True, v  # type: ignore[return-value]

    def iter_range(self, start: bytes | None, end: bytes | None, reverse: bool = False,
                   fill_cache: bool = True) -> Iterator[Entry]:
        """Entries with ``start <= key < end`` (tombstones included), block by block."""
        nblocks = len(self.index_keys)
        first = 0 if start is None else bisect_left(self.index_keys, start)
        last = nblocks - 1 if end is None else min(nblocks - 1,
                                                     bisect_left(self.index_keys, end))
        order = range(last, first - 1, -1) if reverse else range(first, last + 1)
        for i in order:
            keys, values, _ = self.block(i, fill_cache)
            lo = 0 if start is None or i != first else bisect_left(keys, start)
            hi = len(keys) if end is None or i != last else bisect_left(keys, end)
            if reverse:
                for j in range(hi - 1, lo - 1, -1):
                    yield keys[j], values[j]
            else:
                yield from zip(keys[lo:hi], values[lo:hi], strict=False)

    def iter_blocks(self) -> Iterator[tuple[list[bytes], list[bytes | None]]]:
        """Every data block in order, decoded, without filling the cache (compaction)."""
        for i in range(self.nblocks):
            keys, values, _ = self.block(i, fill_cache=False)
            yield keys, values

    def close(self) -> None:
        self.cache.evict_table(self.number)
        self.file.close()


def read_block(f: File, path: str, offset: int, length: int) -> bytes:
    data = f.read_at(offset, length + TRAILER.size)
    if len(data) != length + TRAILER.size:
        raise CorruptionError("SSTable block cut short", path=path, offset=offset)
    kind, crc = TRAILER.unpack_from(data, length)
    if unmask(crc) != crc32c(data[:length + 1]):
        raise CorruptionError("SSTable block checksum mismatch", path=path, offset=offset)
    return decompress(data[:length], kind, path, offset)
