"""The rebalancer: after drives are added, move shards to where placement now puts them.

Placement is rendezvous hashing over the data id (:mod:`.placement`), and a record keeps the
drives its shards were written to, so adding a drive changes nothing for existing data until
it is moved. For every piece of data (current and noncurrent versions) the rebalancer computes
the drives placement chooses today; a shard whose drive is still among them stays, and each
shard on a drive that is no longer chosen is copied to a chosen drive that holds no shard of
this data yet. Only the shards the new drive outranks move: a fraction ``n / drives`` of the
data, one shard each (:func:`cairn.objects.placement.movement` predicts it exactly).

One move: copy the blob (every frame's CRC verified on the way: a rotten shard is left to the
healer, never copied), make it durable on the target, swap the new drive list into the record
under the key's lock if the record still refers to this data, then delete the old blob. A read
that fetched the old record just before the swap may find the old blob gone and reads around it
with parity (a degraded read, still correct). A crash between the copy and the swap leaves an
extra copy of a referenced blob, removed when that data is collected.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace

from cairn.objects import metadata as md
from cairn.objects import shardfile
from cairn.objects.errors import DriveError, ShardCorruptError
from cairn.objects.metadata import DataRef, ObjectRecord
from cairn.objects.placement import place
from cairn.objects.shardfile import Layout
from cairn.objects.store import ObjectStore


@dataclass
class RebalanceReport:
    data_pieces: int = 0  # pieces of data looked at
    shards_moved: int = 0
    bytes_moved: int = 0  # blob bytes copied to their new drives
    skipped: list[str] = field(default_factory=list)  # "data_id.i: why" (left to the healer)
    seconds: float = 0.0


class Rebalancer:
    """Move the shards of one :class:`ObjectStore` to the drives placement chooses now."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def plan(self, ref: DataRef) -> dict[int, str]:
        """Shard index -> the drive it should move to (empty: the data is where it belongs)."""
        n = ref.k + ref.m
        wanted = [s.drive_id for s in place(self.store._specs, ref.data_id.encode(), n)]
        keep = {d for d in ref.drives if d in wanted}
        free = [d for d in wanted if d not in keep]
        moves: dict[int, str] = {}
        for i, d in enumerate(ref.drives):
            if d is not None and d not in keep and free:
                moves[i] = free.pop(0)
        return moves

    def run(self) -> RebalanceReport:
        t0 = time.perf_counter()
        report = RebalanceReport()
        meta = self.store.meta
        records = list(meta.scan(md.OBJECT, md.prefix_end(md.OBJECT)))
        records += [(k, v) for k, v in meta.scan(md.VERSION, md.prefix_end(md.VERSION))
                    if v != md.CURRENT]
        for rkey, raw in records:
            for ref in ObjectRecord.decode(raw).parts:
                report.data_pieces += 1
                moves = self.plan(ref)
                if moves:
                    self._move(rkey, ref, moves, report)
        report.seconds = time.perf_counter() - t0
        return report

    def _move(self, rkey: bytes, ref: DataRef, moves: dict[int, str],
              report: RebalanceReport) -> None:
        drives = self.store.drives
        layout = Layout(ref.k, ref.m, ref.stripe_size, ref.length)
        copied: dict[int, tuple[str, int]] = {}  # index -> (new drive, bytes)
        for i, target in moves.items():
            src, dst = drives.get(ref.drives[i] or ""), drives.get(target)
            if src is None or dst is None:
                report.skipped.append(f"{ref.blob_id(i)}: drive not configured")
                continue
            try:
                raw = src.read(ref.blob_id(i))
                shardfile.check_header(raw, layout, i)
                if len(raw) != layout.blob_size():
                    raise ShardCorruptError("shard has the wrong size")
                shardfile.unpack_frames(memoryview(raw)[shardfile.HEADER_SIZE:], layout, 0,
                                        layout.stripes)
                w = dst.create(ref.blob_id(i))
                try:
                    w.write(raw)
                    w.commit()
                except BaseException:
                    w.abort()
                    raise
            except (DriveError, ShardCorruptError) as exc:
                report.skipped.append(f"{ref.blob_id(i)}: {exc}")
                continue
            copied[i] = (target, len(raw))
        if not copied:
            return
        new = replace(ref, drives=tuple(copied[i][0] if i in copied else d
                                        for i, d in enumerate(ref.drives)))
        if not self._swap(rkey, ref, new):
            for i, (target, _) in copied.items():  # overwritten or deleted meanwhile
                self._delete(target, ref.blob_id(i))
            return
        for i, (_, size) in copied.items():
            self._delete(ref.drives[i], ref.blob_id(i))
            report.shards_moved += 1
            report.bytes_moved += size

    def _delete(self, drive_id: str | None, blob_id: str) -> None:
        drive = self.store.drives.get(drive_id or "")
        if drive is not None:
            with contextlib.suppress(DriveError):  # an unreachable old copy is swept with
                drive.delete(blob_id)  # its data later

    def _swap(self, rkey: bytes, old: DataRef, new: DataRef) -> bool:
        """Point the record at the moved shards if it still refers to ``old`` exactly."""
        return self.store.swap_data(rkey, old, new)
