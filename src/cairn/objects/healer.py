"""Scrubber and healer: find lost or rotten shards and rebuild them onto healthy drives.

Reads only notice bit rot in the shards they happen to read (a healthy read never touches
parity). The **scrubber** therefore walks every object's data and verifies every frame of every
shard against its CRC32C, as ZFS scrub and S3's background auditors do. The **healer** takes a
piece of data with bad shards, reads any k good ones stripe batch by stripe batch, re-encodes
the missing shard indices, writes them (to the original drive when it is back, otherwise to the
next drive in the placement ranking that holds no shard of this data), and then swaps the new
drive list into the object's record, under the key's lock, only if the record still refers to
this data (an overwrite in the meantime makes the repair moot, and GC reclaims it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cairn.objects import metadata as md
from cairn.objects import shardfile
from cairn.objects.drives import BlobWriter, Drive
from cairn.objects.erasure import ReedSolomon
from cairn.objects.errors import DriveError, ShardCorruptError, ShardNotFoundError
from cairn.objects.metadata import DataRef, ObjectRecord
from cairn.objects.placement import rank
from cairn.objects.shardfile import Layout
from cairn.objects.store import ObjectStore, _codec

BATCH_BYTES = 8 * 1024 * 1024


@dataclass
class ScrubReport:
    objects: int = 0
    data_pieces: int = 0
    shards_checked: int = 0
    missing: int = 0
    corrupt: int = 0
    unreadable: int = 0  # drive offline or I/O error
    healed_shards: int = 0
    unrecoverable: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _batches(layout: Layout) -> list[tuple[int, int]]:
    per = max(1, BATCH_BYTES // layout.stripe_size)
    return [(j, min(per, layout.stripes - j)) for j in range(0, layout.stripes, per)]


def _read_frames(drive: Drive | None, ref: DataRef, layout: Layout, index: int, first: int,
                 count: int) -> list[bytes]:
    if drive is None:
        raise DriveError("no drive")
    offset, length = shardfile.frames_span(layout, first, count)
    if first == 0:
        raw = drive.read(ref.blob_id(index), 0, offset + length)
        shardfile.check_header(raw, layout, index)
        raw = raw[offset:]
    else:
        raw = drive.read(ref.blob_id(index), offset, length)
    frames = shardfile.unpack_frames(raw, layout, first, count)
    if first + count == layout.stripes and drive.size(ref.blob_id(index)) != layout.blob_size():
        raise ShardCorruptError("shard has trailing bytes")
    return frames


class Healer:
    """Scrub and heal the data of one :class:`ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def _drive(self, drive_id: str | None) -> Drive | None:
        return self.store.drives.get(drive_id) if drive_id else None

    def check(self, ref: DataRef, report: ScrubReport) -> list[int]:
        """Indices of the shards of ``ref`` that are missing, unreadable or corrupt."""
        layout = Layout(ref.k, ref.m, ref.stripe_size, ref.length)
        bad: list[int] = []
        for i in range(ref.k + ref.m):
            report.shards_checked += 1
            drive = self._drive(ref.drives[i])
            try:
                for first, count in _batches(layout):
                    _read_frames(drive, ref, layout, i, first, count)
            except ShardCorruptError:
                report.corrupt += 1
                bad.append(i)
            except ShardNotFoundError:
                report.missing += 1
                bad.append(i)
            except DriveError:  # offline drive, I/O error, or no drive recorded
                report.unreadable += 1
                bad.append(i)
        return bad

    def heal(self, ref: DataRef, bad: list[int], codec: Callable[[int, int], ReedSolomon],
             ) -> DataRef | None:
        """Rebuild shards ``bad`` of ``ref``; the new ref, or None when fewer than k good."""
        layout = Layout(ref.k, ref.m, ref.stripe_size, ref.length)
        good = [i for i in range(ref.k + ref.m) if i not in bad][: ref.k]
        if len(good) < ref.k:
            return None
        rs = codec(ref.k, ref.m)
        drives = list(ref.drives)
        in_use = {d for i, d in enumerate(drives) if d is not None and i not in bad}
        ranked = [s.drive_id for s in rank(self.store._specs, ref.data_id.encode())]
        writers: dict[int, BlobWriter] = {}
        try:
            for i in bad:
                for cand in [drives[i], *ranked]:
                    d = self._drive(cand)
                    if cand is None or cand in in_use or d is None or not d.online():
                        continue
                    try:
                        w = d.create(ref.blob_id(i))
                        w.write(shardfile.pack_header(ref.k, ref.m, i, ref.stripe_size))
                    except DriveError:
                        continue
                    writers[i] = w
                    drives[i] = cand
                    in_use.add(cand)
                    break
                else:
                    return None  # no healthy drive left to hold this shard
            for first, count in _batches(layout):
                frames = {i: _read_frames(self._drive(ref.drives[i]), ref, layout, i, first,
                                          count) for i in good}
                for s in range(count):
                    rebuilt = rs.reconstruct({i: bytes(frames[i][s]) for i in good}, bad)
                    for i in bad:
                        writers[i].write(shardfile.pack_frame(rebuilt[i]))
            for w in writers.values():
                w.commit()
        except (DriveError, ShardCorruptError):
            for w in writers.values():
                w.abort()
            return None
        return replace(ref, drives=tuple(drives))

    def _swap(self, okey: bytes, old: DataRef, new: DataRef) -> bool:
        """Point the record at the healed shards if it still refers to this data."""
        return self.store.swap_data(okey, old, new)

    def run(self, *, heal: bool = True) -> ScrubReport:
        """Scrub every object; heal what is damaged when ``heal``."""
        t0 = time.perf_counter()
        report = ScrubReport()
        # Current versions live in O; noncurrent versions as full records in V (a V value
        # of ``@`` is the current one, already covered by its O record).
        records = [(k, v) for k, v in self.store.meta.scan(md.OBJECT, md.prefix_end(md.OBJECT))]
        records += [(k, v) for k, v in self.store.meta.scan(md.VERSION,
                                                             md.prefix_end(md.VERSION))
                    if v != md.CURRENT]
        for okey, raw in records:
            self._scrub_record(okey, ObjectRecord.decode(raw), report, heal)
        report.seconds = time.perf_counter() - t0
        return report

    def _scrub_record(self, okey: bytes, rec: ObjectRecord, report: ScrubReport, heal: bool,
                      only: str | None = None) -> None:
        report.objects += 1
        for ref in rec.parts:
            if only is not None and ref.data_id != only:
                continue
            report.data_pieces += 1
            bad = self.check(ref, report)
            if not bad or not heal:
                continue
            new = self.heal(ref, bad, _codec)
            if new is None:
                report.unrecoverable.append(ref.data_id)
                continue
            if self._swap(okey, ref, new):
                report.healed_shards += len(bad)
                self.store.heal_queue.discard(ref.data_id)

    def heal_queued(self) -> ScrubReport:
        """Check and heal just the data that reads reported damaged (the store's heal queue),
        instead of waiting for the next full scrub. The ``D`` marker of a data id names the
        ``V`` key of its version (``@`` there: the record is the key's ``O`` value)."""
        t0 = time.perf_counter()
        report = ScrubReport()
        with self.store._stats_lock:  # readers add to the queue concurrently
            queued = list(self.store.heal_queue)
        for data_id in queued:
            owner = self.store.meta.get(md.data_key(data_id))
            raw = self.store.meta.get(owner) if owner is not None else None
            if owner is None or raw is None or not owner.startswith(md.VERSION):
                self.store.heal_queue.discard(data_id)  # gone, or a multipart part in flight
                continue
            key = owner
            if raw == md.CURRENT:
                bucket, _, rest = owner[1:].partition(b"\x00")
                key = md.OBJECT + bucket + b"\x00" + rest[:-17]
                raw = self.store.meta.get(key)
                if raw is None:
                    continue
            before = report.healed_shards
            self._scrub_record(key, ObjectRecord.decode(raw), report, True, only=data_id)
            if report.healed_shards == before and not report.unrecoverable:
                self.store.heal_queue.discard(data_id)  # healthy again (a transient error)
        report.seconds = time.perf_counter() - t0
        return report
