"""The key directory and how it is rebuilt at startup (Bitcask's keydir; DDIA ch. 3).

The key directory is an in-memory hash map from every live key to where its latest record is:
``key -> (segment sid, record offset, record length, value start)``, the last being where the
value begins inside the record (9 + key length: a cached small int, so it costs no memory,
and a get slices the value out without computing it). A plain ``dict`` of tuples is the most
compact and fastest structure CPython offers for this; a get is one dict lookup and one
``pread``.

Recovery at open:

1. Finish or undo an interrupted merge. Outputs ``seg-C-k`` of a merge are *committed* once the
   merge's newest input, normal segment ``C``, is gone (merge unlinks it first, after every
   output is durable). So: outputs whose ``C`` still exists belong to a merge that never
   committed and are deleted (every input is still there); for the newest committed merge,
   every leftover segment sorting before ``(C, 1)`` was one of its inputs and is deleted.
2. Replay the remaining segments in sort order. A segment with a valid hint file is loaded from
   the hint; any other is scanned record by record, every checksum verified. The last segment
   may end in a torn tail, which is truncated (those bytes were never acknowledged); a bad
   record anywhere else is :class:`~cairn.storage.errors.CorruptionError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import FileSystem
from cairn.storage.hash.hint import decode_hint
from cairn.storage.hash.segment import (
    HEADER_SIZE,
    TOMBSTONE,
    Segment,
    SegmentScan,
    SegmentTable,
    hint_name,
    parse_name,
    scan_segment,
    segment_name,
    uses_plain_pread,
)

Entry = tuple[int, int, int, int]  # (segment sid, record offset, record length, value start)
KeyDir = dict[bytes, Entry]


@dataclass
class Recovered:
    """The state recovery hands to the engine, and what it had to do to get there."""

    segments: list[Segment] = field(default_factory=list)
    table: SegmentTable = field(default_factory=SegmentTable)
    keydir: KeyDir = field(default_factory=dict)
    live_record_bytes: int = 0  # sum of the record lengths the keydir points at
    next_id: int = 1
    hints_loaded: int = 0
    hints_rejected: int = 0
    segments_scanned: int = 0
    torn_bytes_truncated: int = 0
    files_removed: int = 0


def apply_records(keydir: KeyDir, table: SegmentTable, seg: Segment,
                  records: Iterable[tuple[int, int, bytes, int]]) -> int:
    """Replay ``(offset, flags, key, length)`` records of ``seg`` into ``keydir``, keeping
    per-segment dead bytes right; return the change in live record bytes."""
    live = 0
    get = keydir.get
    dead = 0
    sid = seg.sid
    by_sid = table.by_sid
    for off, flags, key, n in records:
        old = get(key)
        if old is not None:
            if old[0] == sid:
                dead += old[2]
            else:
                by_sid[old[0]].dead += old[2]
            live -= old[2]
        if flags & TOMBSTONE:
            dead += n  # a tombstone is garbage from the start: merge drops it
            if old is not None:
                del keydir[key]
        else:
            keydir[key] = (sid, off, n, HEADER_SIZE + len(key))
            live += n
    seg.dead += dead
    return live


def _remove(fs: FileSystem, path: str, names: Iterable[str], rec: Recovered) -> None:
    for name in names:
        fs.remove(os.path.join(path, name))
        rec.files_removed += 1


def resolve_merges(fs: FileSystem, path: str, rec: Recovered) -> dict[tuple[int, int], str]:
    """Step 1 above; return the data files that remain, by sort key."""
    data: dict[tuple[int, int], str] = {}
    hints: dict[tuple[int, int], str] = {}
    for name in fs.listdir(path):
        parsed = parse_name(name)
        if parsed is None:
            continue
        seg_id, sub, ext = parsed
        (data if ext == "data" else hints)[(seg_id, sub)] = name
    groups = {k[0] for k in data if k[1] > 0}
    committed = [c for c in groups if (c, 0) not in data]
    doomed: list[tuple[int, int]] = []
    if committed:
        newest = max(committed)
        doomed += [k for k in data if k < (newest, 1)]
    doomed += [k for k in data if k[1] > 0 and (k[0], 0) in data]  # never committed
    for key in set(doomed):
        _remove(fs, path, [data.pop(key)], rec)
    orphans = [k for k in hints if k not in data]
    _remove(fs, path, [hints.pop(k) for k in orphans], rec)
    if rec.files_removed:
        fs.sync_dir(path)
    return data


def recover(fs: FileSystem, path: str, max_key: int) -> Recovered:
    """Rebuild the key directory from the files in ``path`` (see the module docstring)."""
    rec = Recovered()
    data = resolve_merges(fs, path, rec)
    order = sorted(data)
    try:
        for i, key in enumerate(order):
            seg_path = os.path.join(path, data[key])
            f = fs.open(seg_path, create=False)
            seg = rec.table.add(Segment(key[0], key[1], seg_path, f, uses_plain_pread(fs)))
            rec.segments.append(seg)
            if _load_hint(fs, path, seg, rec):
                seg.mark_flushed()
                continue
            rec.segments_scanned += 1
            result = SegmentScan()
            raw = f.read_at(0, f.size)
            rec.live_record_bytes += apply_records(
                rec.keydir, rec.table, seg, scan_segment(raw, seg_path, max_key, result))
            if result.torn:
                if i != len(order) - 1 or seg.merged:
                    # Only the newest file can have been cut by a crash: older ones were
                    # fsynced before anything was written after them.
                    raise CorruptionError("segment ends in a damaged or unfinished record",
                                          path=seg_path, offset=result.valid_end)
                rec.torn_bytes_truncated += f.size - result.valid_end
                f.truncate(result.valid_end)
                f.sync()
            seg.mark_flushed()
    except BaseException:
        for seg in rec.segments:
            seg.close()
        raise
    rec.next_id = max((k[0] for k in order), default=0) + 1
    return rec


def _load_hint(fs: FileSystem, path: str, seg: Segment, rec: Recovered) -> bool:
    if not seg.merged:
        return False
    hpath = os.path.join(path, hint_name(seg.id, seg.sub))
    if not fs.exists(hpath):
        return False
    raw = fs.read_file(hpath)
    entries = decode_hint(raw, seg.size)
    if entries is None:
        rec.hints_rejected += 1
        return False
    rec.hints_loaded += 1
    seg.hint_path = hpath
    seg.hint_bytes = len(raw)
    rec.live_record_bytes += apply_records(
        rec.keydir, rec.table, seg, ((off, flags, key, n) for flags, key, off, n in entries))
    return True


__all__ = ["Entry", "KeyDir", "Recovered", "apply_records", "recover", "segment_name"]
