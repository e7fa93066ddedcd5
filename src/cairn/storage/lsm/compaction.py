"""Compaction: choosing which sorted runs to merge, and merging them (DDIA ch. 3, "size-tiered
and leveled compaction").

*Leveled* (LevelDB/RocksDB's default): level 0 holds whole flushed memtables, which overlap;
level ``i >= 1`` is one sorted run split into tables, with a size budget ``base * 10^(i-1)``.
When L0 has ``l0_trigger`` tables, all of them are merged with the overlapping L1 tables; when a
level is over budget, one of its tables (round robin through the key space) is merged with the
overlapping tables one level down. A table with nothing to merge with is just moved down
(a manifest edit, no I/O). Little space overhead and few runs per read, at the cost of
rewriting data ~10x per level.

*Size-tiered* (Cassandra's STCS, an option): every flush adds a run; when ``min_merge`` runs of
similar size sit next to each other in age order they are merged into one. Lower write
amplification, more runs to search and more temporary space. Only *adjacent* runs are merged,
because the engine orders runs by age rather than storing a sequence number per entry.

Tombstones are dropped only when no older data below the output could hold the key: at the
last level in practice (the key range of the compaction overlaps nothing deeper).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cairn.storage.lsm.iterators import Entry, concat, merge_entries
from cairn.storage.lsm.manifest import TableMeta, Version


@dataclass
class CompactionOptions:
    style: str = "leveled"  # or "tiered"
    l0_trigger: int = 4  # leveled: L0 tables that start an L0 -> L1 compaction
    level_base_bytes: int = 10 * 1024 * 1024  # leveled: budget of L1; x multiplier per level
    level_multiplier: int = 10
    target_file_size: int = 2 * 1024 * 1024  # leveled: output tables are split at this size
    min_merge: int = 4  # tiered: adjacent similar runs merged at once
    max_merge: int = 32
    max_runs: int = 12  # tiered: past this many runs, merge the cheapest adjacent window
    similar_ratio: float = 1.5  # tiered: a run joins a window within avg/ratio .. avg*ratio


@dataclass
class Plan:
    """One compaction: ``inputs`` (newest level first) merged into ``output_level``."""

    inputs: list[TableMeta]
    output_level: int
    drop_tombstones: bool
    trivial_move: bool = False
    seq: int = 0  # the seq of the output tables (tiered keeps the newest input's)
    reason: str = ""
    split_size: int | None = None  # None: one output table
    sources: list[list[TableMeta]] = field(default_factory=list)  # newest first


def _overlaps(t: TableMeta, lo: bytes, hi: bytes) -> bool:
    return not (t.largest < lo or t.smallest > hi)


def _deeper_overlap(version: Version, level: int, lo: bytes, hi: bytes) -> bool:
    return any(_overlaps(t, lo, hi) for lvl in version.levels[level + 1:] for t in lvl)


def level_budget(opts: CompactionOptions, level: int) -> int:
    return opts.level_base_bytes * opts.level_multiplier ** (level - 1)


def level_scores(version: Version, opts: CompactionOptions) -> list[float]:
    """How urgently each level needs compaction (>= 1 means now); the last level never."""
    scores = [len(version.levels[0]) / opts.l0_trigger]
    last = len(version.levels) - 1
    for i in range(1, len(version.levels)):
        size = sum(t.size for t in version.levels[i])
        scores.append(0.0 if i == last else size / level_budget(opts, i))
    return scores


def pick_leveled(version: Version, opts: CompactionOptions,
                 pointers: dict[int, bytes]) -> Plan | None:
    scores = level_scores(version, opts)
    level = max(range(len(scores)), key=lambda i: scores[i])
    if scores[level] < 1.0:
        return None
    return plan_level(version, opts, level, pointers, reason=f"L{level} score "
                      f"{scores[level]:.2f}")


def plan_level(version: Version, opts: CompactionOptions, level: int,
               pointers: dict[int, bytes], reason: str = "") -> Plan | None:
    tables = version.levels[level]
    if not tables or level + 1 >= len(version.levels):
        return None
    if level == 0:
        upper = list(tables)  # newest first; L0 tables overlap, so all of them go together
    else:
        ptr = pointers.get(level)
        nxt = [t for t in tables if ptr is None or t.smallest > ptr]
        upper = [nxt[0] if nxt else tables[0]]
        pointers[level] = upper[0].largest
    lo = min(t.smallest for t in upper)
    hi = max(t.largest for t in upper)
    lower = [t for t in version.levels[level + 1] if _overlaps(t, lo, hi)]
    if lower:
        lo = min(lo, lower[0].smallest)
        hi = max(hi, lower[-1].largest)
    drop = not _deeper_overlap(version, level + 1, lo, hi)
    trivial = len(upper) == 1 and not lower
    sources = [[t] for t in upper] if level == 0 else [upper]
    if lower:
        sources.append(lower)
    return Plan(upper + lower, level + 1, drop, trivial, 0, reason, opts.target_file_size,
                sources)


def pick_tiered(version: Version, opts: CompactionOptions) -> Plan | None:
    runs = list(version.levels[0])  # newest first
    if len(runs) < opts.min_merge:
        return None
    window: list[TableMeta] | None = None
    for i in range(len(runs)):
        total = runs[i].size
        j = i + 1
        while j < len(runs) and j - i < opts.max_merge:
            avg = total / (j - i)
            if not avg / opts.similar_ratio <= runs[j].size <= avg * opts.similar_ratio:
                break
            total += runs[j].size
            j += 1
        if j - i >= opts.min_merge:
            window = runs[i:j]
            reason = f"{j - i} similar runs"
            break
    if window is None and len(runs) > opts.max_runs:
        w = opts.min_merge
        i = min(range(len(runs) - w + 1), key=lambda s: sum(t.size for t in runs[s:s + w]))
        window = runs[i:i + w]
        reason = f"{len(runs)} runs > max_runs"
    if window is None:
        return None
    drop = window[-1] is runs[-1]  # includes the oldest run: nothing older can hold the key
    return Plan(window, 0, drop, False, max(t.seq for t in window), reason, None,
                [[t] for t in window])


@dataclass
class MergeResult:
    entries_in: int = 0
    entries_out: int = 0
    tombstones_dropped: int = 0


def merge_into(sources: list[Iterable[Entry]], drop_tombstones: bool,
               add: Callable[[bytes, bytes | None], bool], roll: Callable[[], None]
               ) -> MergeResult:
    """Stream the merged entries into ``add`` (which returns ``True`` when the output should
    roll over to a new table, and ``roll`` starts one)."""
    res = MergeResult()
    for k, v in merge_entries(sources):
        res.entries_in += 1
        if v is None and drop_tombstones:
            res.tombstones_dropped += 1
            continue
        res.entries_out += 1
        if add(k, v):
            roll()
    return res


def merge_blocks(sources: list[list[tuple[list[bytes], list[bytes | None]]]],
                 drop_tombstones: bool) -> tuple[list[bytes], list[bytes | None], int]:
    """Merge decoded blocks in memory; ``sources`` newest first, each a list of blocks
    ``(keys, values)``. Returns the merged keys and values (tombstones kept unless dropped) and
    how many tombstones were dropped. Applying the sources oldest first to one dict makes the
    newest value win; the dict's key order is a few sorted runs, which Timsort merges in
    close to linear time."""
    merged: dict[bytes, bytes | None] = {}
    update = merged.update
    for blocks in reversed(sources):
        for keys, values in blocks:
            update(zip(keys, values, strict=True))
    keys = sorted(merged)
    dropped = 0
    if drop_tombstones:
        before = len(keys)
        keys = [k for k in keys if merged[k] is not None]
        dropped = before - len(keys)
    return keys, [merged[k] for k in keys], dropped


__all__ = ["CompactionOptions", "MergeResult", "Plan", "concat", "merge_blocks", "merge_into",
           "pick_leveled", "pick_tiered", "plan_level"]
