"""Page layout of the B+tree engine: fixed-size pages, each sealed with a CRC-32C.

Every page of ``tree.dat`` has the same 12-byte common header (little-endian)::

    crc:u32  type:u8  flags:u8  count:u16  page_id:u32

``crc`` is the masked CRC-32C of bytes ``[4, page_size)``: the whole page, padding included,
so any flipped bit is caught when the page is read back. ``page_id`` is the page's own number,
so a page written to the wrong place (a misdirected write) fails verification too; this is the
role of PostgreSQL's data checksums (which also mix in the block number). Page 0 is the meta
page, so the id 0 doubles as "no page" in sibling and chain pointers. The layouts after the
common header are:

* leaf:      ``prev:u32 next:u32`` then ``count`` entries ``klen:u16 vlen:u32 key value``
  (``flags`` bit 0, :data:`FIXED_ENTRIES`: all entries have the same lengths); a
  value stored out of line has ``vlen = 0xFFFFFFFF`` and the 8 bytes ``first:u32 length:u32``
  (its overflow chain) instead of the value;
* internal:  ``child0:u32`` then ``count`` entries ``klen:u16 key child:u32`` (``child_i`` holds
  the keys ``k`` with ``key_{i-1} <= k < key_i``);
* overflow:  ``next:u32 used:u32`` then ``used`` bytes of a large value;
* freelist:  ``next:u32`` then ``count`` free page ids ``u32`` (SQLite's freelist trunk pages);
* meta:      see :data:`META`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import chain, repeat

from cairn.storage.checksum import crc32c, mask, unmask
from cairn.storage.errors import CorruptionError

META_PAGE = 1
LEAF_PAGE = 2
INTERNAL_PAGE = 3
OVERFLOW_PAGE = 4
FREELIST_PAGE = 5
PAGE_TYPES = {META_PAGE: "meta", LEAF_PAGE: "leaf", INTERNAL_PAGE: "internal",
              OVERFLOW_PAGE: "overflow", FREELIST_PAGE: "freelist"}

MAGIC = b"CAIRNBT1"
COMMON = struct.Struct("<IBBHI")  # crc type flags count page_id
LEAF_HEADER = struct.Struct("<IBBHIII")  # + prev next
INTERNAL_HEADER = struct.Struct("<IBBHII")  # + child0
OVERFLOW_HEADER = struct.Struct("<IBBHIII")  # + next used
FREELIST_HEADER = struct.Struct("<IBBHII")  # + next
# meta: + magic page_size root height page_count wal_gen freelist_head free_count leaf_pages
#         internal_pages overflow_pages keys live_bytes checkpoint_seq
META = struct.Struct("<IBBHI8sIIIIQIIIIIQQQ")
LEAF_ENTRY = struct.Struct("<HI")
INTERNAL_ENTRY_OVERHEAD = 6  # klen:u16 + child:u32
LEAF_ENTRY_OVERHEAD = 6  # klen:u16 + vlen:u32
OVERFLOW_REF = struct.Struct("<II")
OVERFLOW_MARK = 0xFFFFFFFF
U32 = struct.Struct("<I")

# Leaf flag: every entry has the same key length and the same inline value length, so entry i
# starts at LEAF_HEADER.size + i * (6 + klen + vlen). Set by the encoder when it holds; a reader
# that ignores it (flags were always 0 before) still decodes the page entry by entry, and pages
# written without it are searched by the general walk: no format version change.
FIXED_ENTRIES = 1

MIN_PAGE_SIZE = 1024
MAX_PAGE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class OverflowRef:
    """A value stored out of line: the first page of its chain and its total length."""

    first: int
    length: int


@dataclass(slots=True)
class Meta:
    """The meta page (page 0): where the tree starts and what the last checkpoint covered."""

    page_size: int
    root: int
    height: int
    page_count: int
    wal_gen: int
    freelist_head: int
    free_count: int
    leaf_pages: int
    internal_pages: int
    overflow_pages: int
    keys: int
    live_bytes: int
    checkpoint_seq: int


def leaf_capacity(page_size: int) -> int:
    return page_size - LEAF_HEADER.size


def internal_capacity(page_size: int) -> int:
    return page_size - INTERNAL_HEADER.size


def overflow_capacity(page_size: int) -> int:
    return page_size - OVERFLOW_HEADER.size


def freelist_capacity(page_size: int) -> int:
    return (page_size - FREELIST_HEADER.size) // 4


def seal(body: bytes, page_size: int) -> bytes:
    """Pad ``body`` (a page without its crc) to the page size and prepend the checksum."""
    pad = page_size - 4 - len(body)
    if pad < 0:
        raise ValueError(f"page body of {len(body)} bytes does not fit a {page_size}-byte page")
    body = body + bytes(pad)
    return U32.pack(mask(crc32c(body))) + body


def verify(page: bytes, page_id: int, page_size: int, path: str, offset: int) -> int:
    """Check a page read from disk; return its type. Raise :class:`CorruptionError`."""
    if len(page) != page_size:
        raise CorruptionError(f"page {page_id} is short ({len(page)} of {page_size} bytes)",
                              path=path, offset=offset)
    crc, ptype, _flags, _count, stored_id = COMMON.unpack_from(page, 0)
    if unmask(crc) != crc32c(memoryview(page)[4:]):
        raise CorruptionError(f"page {page_id} fails its checksum", path=path, offset=offset)
    if stored_id != page_id:
        raise CorruptionError(f"page {page_id} holds page {stored_id} (misdirected write)",
                              path=path, offset=offset)
    if ptype not in PAGE_TYPES:
        raise CorruptionError(f"page {page_id} has unknown type {ptype}", path=path,
                              offset=offset)
    return ptype


# -- leaf ------------------------------------------------------------------------------------
def _fixed(keys: list[bytes], vals: list[bytes | OverflowRef]) -> bool:
    """Do all entries have one key length and one inline value length? (C-level passes; an
    OverflowRef has no len(), so any out-of-line value answers no.)"""
    if not keys or len(set(map(len, keys))) != 1:
        return False
    try:
        return len(set(map(len, vals))) == 1  # type: ignore[arg-type]
    except TypeError:
        return False


def encode_leaf(page_id: int, prev: int, nxt: int, keys: list[bytes],
                vals: list[bytes | OverflowRef], page_size: int) -> bytes:
    if _fixed(keys, vals):  # one entry header for all: the page is one C-level join
        head = LEAF_HEADER.pack(0, LEAF_PAGE, FIXED_ENTRIES, len(keys), page_id, prev, nxt)[4:]
        entry = LEAF_ENTRY.pack(len(keys[0]), len(vals[0]))  # type: ignore[arg-type]
        body = b"".join(chain.from_iterable(zip(repeat(entry), keys, vals)))  # type: ignore[arg-type]
        return seal(head + body, page_size)
    parts = [LEAF_HEADER.pack(0, LEAF_PAGE, 0, len(keys), page_id, prev, nxt)[4:]]
    pack = LEAF_ENTRY.pack
    ref = OVERFLOW_REF.pack
    append = parts.append
    for k, v in zip(keys, vals, strict=True):
        if type(v) is bytes:
            append(pack(len(k), len(v)))
            append(k)
            append(v)
        else:
            append(pack(len(k), OVERFLOW_MARK))
            append(k)
            append(ref(v.first, v.length))
    return seal(b"".join(parts), page_size)


def decode_leaf(page: bytes, path: str, offset: int
                ) -> tuple[int, int, list[bytes], list[bytes | OverflowRef]]:
    """``(prev, next, keys, values)`` of a verified leaf page."""
    return decode_leaf_sized(page, path, offset)[:4]  # type: ignore[return-value]


def leaf_search(page: bytes, key: bytes, path: str, offset: int
                ) -> bytes | OverflowRef | None:
    """The value of ``key`` in a verified leaf page, searched in the bytes (no decode).

    ``bytes.find`` looks for the key's bytes in C; a hit counts only if it is where an entry's
    key starts with the right length, which a walk over the entry headers (one ``unpack_from``
    each, no slicing) confirms. The same bytes inside a value or spanning two entries are
    skipped and the search continues after them. No hit at all means the key is absent: an
    entry's key is always a substring of its page."""
    hit = page.find(key, LEAF_HEADER.size)
    if hit < 0:
        return None
    _crc, _t, flags, count = COMMON.unpack_from(page, 0)[:4]
    if flags & FIXED_ENTRIES:  # one stride: a hit is an entry's key iff it sits on the grid
        klen, vlen = LEAF_ENTRY.unpack_from(page, LEAF_HEADER.size)
        if klen != len(key):
            return None
        stride = 6 + klen + vlen
        first = LEAF_HEADER.size + 6
        end = LEAF_HEADER.size + count * stride
        if end > len(page):
            raise CorruptionError("leaf entries run off their page", path=path,
                                  offset=offset)
        while 0 <= hit < end:
            if (hit - first) % stride == 0:
                return page[hit + klen:hit + klen + vlen]
            hit = page.find(key, hit + 1, end)
        return None
    unpack = LEAF_ENTRY.unpack_from
    klen_wanted = len(key)
    end_of_page = len(page)
    pos = LEAF_HEADER.size
    for _ in range(count):
        klen, vlen = unpack(page, pos)
        kstart = pos + 6
        kend = kstart + klen
        vbytes = 8 if vlen == OVERFLOW_MARK else vlen
        if kend + vbytes > end_of_page:
            raise CorruptionError("leaf entry runs off its page", path=path,
                                  offset=offset + pos)
        if kstart >= hit:
            if kstart == hit and klen == klen_wanted:
                if vlen == OVERFLOW_MARK:
                    return OverflowRef(*OVERFLOW_REF.unpack_from(page, kend))
                return page[kend:kend + vlen]
            hit = page.find(key, kstart)  # the hit was not an entry's key: look further
            if hit < 0:
                return None
            if hit == kstart and klen == klen_wanted:
                if vlen == OVERFLOW_MARK:
                    return OverflowRef(*OVERFLOW_REF.unpack_from(page, kend))
                return page[kend:kend + vlen]
        pos = kend + vbytes
    return None


def decode_leaf_sized(page: bytes, path: str, offset: int
                      ) -> tuple[int, int, list[bytes], list[bytes | OverflowRef], int, int]:
    """``(prev, next, keys, values, nbytes, overflow_entries)`` of a verified leaf page: the
    entries' serialized size and out-of-line count come out of the decode for free."""
    _crc, _t, flags, count, _pid, prev, nxt = LEAF_HEADER.unpack_from(page, 0)
    if flags & FIXED_ENTRIES and count:  # slices on a grid: no per-entry header parse
        klen, vlen = LEAF_ENTRY.unpack_from(page, LEAF_HEADER.size)
        stride = 6 + klen + vlen
        first = LEAF_HEADER.size + 6
        end = LEAF_HEADER.size + count * stride
        if end > len(page):
            raise CorruptionError("leaf entries run off their page", path=path,
                                  offset=offset)
        starts = range(first, end, stride)
        fkeys = [page[p:p + klen] for p in starts]
        fvals: list[bytes | OverflowRef] = [page[p + klen:p + klen + vlen] for p in starts]
        return prev, nxt, fkeys, fvals, end - LEAF_HEADER.size, 0
    keys: list[bytes] = []
    vals: list[bytes | OverflowRef] = []
    novf = 0
    pos = LEAF_HEADER.size
    end_of_page = len(page)
    unpack = LEAF_ENTRY.unpack_from
    for _ in range(count):
        if pos + 6 > end_of_page:
            raise CorruptionError("leaf entry runs off its page", path=path, offset=offset + pos)
        klen, vlen = unpack(page, pos)
        pos += 6
        kend = pos + klen
        if vlen == OVERFLOW_MARK:
            if kend + 8 > end_of_page:
                raise CorruptionError("leaf entry runs off its page", path=path,
                                      offset=offset + pos)
            first, length = OVERFLOW_REF.unpack_from(page, kend)
            keys.append(page[pos:kend])
            vals.append(OverflowRef(first, length))
            pos = kend + 8
            novf += 1
        else:
            vend = kend + vlen
            if vend > end_of_page:
                raise CorruptionError("leaf entry runs off its page", path=path,
                                      offset=offset + pos)
            keys.append(page[pos:kend])
            vals.append(page[kend:vend])
            pos = vend
    return prev, nxt, keys, vals, pos - LEAF_HEADER.size, novf


# -- internal --------------------------------------------------------------------------------
def encode_internal(page_id: int, keys: list[bytes], children: list[int],
                    page_size: int) -> bytes:
    parts = [INTERNAL_HEADER.pack(0, INTERNAL_PAGE, 0, len(keys), page_id, children[0])[4:]]
    append = parts.append
    u16 = struct.Struct("<H").pack
    u32 = U32.pack
    for k, child in zip(keys, children[1:], strict=True):
        append(u16(len(k)))
        append(k)
        append(u32(child))
    return seal(b"".join(parts), page_size)


def decode_internal(page: bytes, path: str, offset: int) -> tuple[list[bytes], list[int]]:
    _crc, _t, _f, count, _pid, child0 = INTERNAL_HEADER.unpack_from(page, 0)
    keys: list[bytes] = []
    children = [child0]
    pos = INTERNAL_HEADER.size
    n = len(page)
    for _ in range(count):
        if pos + 2 > n:
            raise CorruptionError("internal entry runs off its page", path=path,
                                  offset=offset + pos)
        (klen,) = struct.unpack_from("<H", page, pos)
        kend = pos + 2 + klen
        if kend + 4 > n:
            raise CorruptionError("internal entry runs off its page", path=path,
                                  offset=offset + pos)
        keys.append(page[pos + 2:kend])
        children.append(U32.unpack_from(page, kend)[0])
        pos = kend + 4
    return keys, children


# -- overflow and freelist -------------------------------------------------------------------
def encode_overflow(page_id: int, nxt: int, data: bytes, page_size: int) -> bytes:
    return seal(OVERFLOW_HEADER.pack(0, OVERFLOW_PAGE, 0, 0, page_id, nxt, len(data))[4:]
                + data, page_size)


def decode_overflow(page: bytes, path: str, offset: int) -> tuple[int, bytes]:
    _crc, _t, _f, _c, _pid, nxt, used = OVERFLOW_HEADER.unpack_from(page, 0)
    if OVERFLOW_HEADER.size + used > len(page):
        raise CorruptionError("overflow page claims more bytes than it has", path=path,
                              offset=offset)
    return nxt, page[OVERFLOW_HEADER.size:OVERFLOW_HEADER.size + used]


def encode_freelist(page_id: int, nxt: int, ids: list[int], page_size: int) -> bytes:
    body = FREELIST_HEADER.pack(0, FREELIST_PAGE, 0, len(ids), page_id, nxt)[4:]
    return seal(body + struct.pack(f"<{len(ids)}I", *ids), page_size)


def decode_freelist(page: bytes) -> tuple[int, list[int]]:
    _crc, _t, _f, count, _pid, nxt = FREELIST_HEADER.unpack_from(page, 0)
    return nxt, list(struct.unpack_from(f"<{count}I", page, FREELIST_HEADER.size))


# -- meta ------------------------------------------------------------------------------------
def encode_meta(m: Meta) -> bytes:
    body = META.pack(0, META_PAGE, 0, 0, 0, MAGIC, m.page_size, m.root, m.height, m.page_count,
                     m.wal_gen, m.freelist_head, m.free_count, m.leaf_pages, m.internal_pages,
                     m.overflow_pages, m.keys, m.live_bytes, m.checkpoint_seq)[4:]
    return seal(body, m.page_size)


def peek_page_size(head: bytes, path: str) -> int:
    """The page size recorded in the meta page (read before the full page can be verified)."""
    if len(head) < META.size or head[12:20] != MAGIC:
        raise CorruptionError("no btree meta page (bad magic)", path=path, offset=0)
    (size,) = U32.unpack_from(head, 20)
    if size < MIN_PAGE_SIZE or size > MAX_PAGE_SIZE or size & (size - 1):
        raise CorruptionError(f"meta page records an impossible page size {size}", path=path,
                              offset=20)
    return size


def decode_meta(page: bytes, path: str) -> Meta:
    if verify(page, 0, len(page), path, 0) != META_PAGE:
        raise CorruptionError("page 0 is not a meta page", path=path, offset=0)
    f = META.unpack_from(page, 0)
    if f[5] != MAGIC:
        raise CorruptionError("bad magic in meta page", path=path, offset=12)
    return Meta(*f[6:])
