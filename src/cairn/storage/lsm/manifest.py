"""The manifest: which SSTables are live, at which level (LevelDB's MANIFEST + CURRENT).

The set of live tables changes only by *version edits* (add these tables, remove those, the
oldest WAL still needed is N). Edits are appended to ``MANIFEST-NNNNNN`` as checksummed frames
(the :mod:`cairn.storage.record` framing, with a JSON payload) and fsynced *before* the engine
acts on them: a flush deletes its WAL, and a compaction its input tables, only after the edit
that makes them obsolete is durable. ``CURRENT`` names the manifest in use and is replaced
atomically (write to a temporary file, fsync, rename, fsync the directory), so switching to a
fresh manifest is all-or-nothing. The engine starts a fresh manifest (one snapshot edit) at
every open and whenever the log grows past a limit, so replay stays short.

Recovery replays the edits in order; a torn last frame is an edit that was never acknowledged
(its fsync did not return), so it is dropped; damage before valid frames is corruption.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field, replace
from typing import Any

from cairn.storage.checksum import crc32c, mask
from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import File, FileSystem
from cairn.storage.record import ScanResult, scan_frames

CURRENT = "CURRENT"
_U32 = struct.Struct("<I")


def manifest_name(number: int) -> str:
    return f"MANIFEST-{number:06d}"


def table_name(number: int) -> str:
    return f"{number:06d}.sst"


@dataclass(frozen=True, slots=True)
class TableMeta:
    """One live SSTable as the manifest records it.

    ``seq`` orders tables by the age of their data: level 0 (and the runs of size-tiered
    compaction) may overlap, and a lookup must consult the newest first. A flush gets the next
    ``seq``; a merge of adjacent runs keeps the newest input's.
    """

    number: int
    level: int
    size: int
    smallest: bytes
    largest: bytes
    entries: int
    tombstones: int
    live_bytes: int
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "level": self.level, "size": self.size,
                "smallest": self.smallest.hex(), "largest": self.largest.hex(),
                "entries": self.entries, "tombstones": self.tombstones,
                "live_bytes": self.live_bytes, "seq": self.seq}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TableMeta:
        return cls(int(d["number"]), int(d["level"]), int(d["size"]),
                   bytes.fromhex(d["smallest"]), bytes.fromhex(d["largest"]), int(d["entries"]),
                   int(d["tombstones"]), int(d["live_bytes"]), int(d["seq"]))


@dataclass
class VersionEdit:
    added: list[TableMeta] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # table numbers
    log_number: int | None = None  # WAL files below this number are no longer needed
    next_file: int | None = None
    next_seq: int | None = None
    snapshot: bool = False  # the first edit of a manifest: the whole state

    def encode(self) -> bytes:
        d: dict[str, Any] = {"add": [t.to_json() for t in self.added], "remove": self.removed}
        for name in ("log_number", "next_file", "next_seq"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.snapshot:
            d["snapshot"] = True
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes, path: str, offset: int) -> VersionEdit:
        try:
            d = json.loads(payload)
            return cls([TableMeta.from_json(t) for t in d["add"]], [int(n) for n in d["remove"]],
                       d.get("log_number"), d.get("next_file"), d.get("next_seq"),
                       bool(d.get("snapshot")))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptionError(f"unreadable manifest edit: {exc}", path=path,
                                  offset=offset) from exc


@dataclass(frozen=True)
class Version:
    """An immutable set of live tables. ``levels[0]`` is ordered newest first (by ``seq``);
    deeper levels are ordered by key and do not overlap (leveled compaction)."""

    levels: tuple[tuple[TableMeta, ...], ...]
    log_number: int = 0
    next_seq: int = 1

    @classmethod
    def empty(cls, num_levels: int) -> Version:
        return cls(tuple(() for _ in range(num_levels)))

    def apply(self, edit: VersionEdit) -> Version:
        removed = set(edit.removed)
        levels = [[t for t in lvl if t.number not in removed] for lvl in self.levels]
        if edit.snapshot:
            levels = [[] for _ in self.levels]
        for t in edit.added:
            if t.level >= len(levels):
                raise CorruptionError(f"table {t.number} at level {t.level}, past the last level")
            levels[t.level].append(t)
        levels[0].sort(key=lambda t: -t.seq)
        for lvl in levels[1:]:
            lvl.sort(key=lambda t: t.smallest)
        return replace(self, levels=tuple(tuple(lvl) for lvl in levels),
                       log_number=self.log_number if edit.log_number is None else edit.log_number,
                       next_seq=self.next_seq if edit.next_seq is None else edit.next_seq)

    def tables(self) -> list[TableMeta]:
        return [t for lvl in self.levels for t in lvl]

    def snapshot_edit(self, next_file: int) -> VersionEdit:
        return VersionEdit(self.tables(), [], self.log_number, next_file, self.next_seq,
                           snapshot=True)


def encode_frame(payload: bytes) -> bytes:
    """A :mod:`cairn.storage.record` frame around an arbitrary payload."""
    length = _U32.pack(len(payload))
    return _U32.pack(mask(crc32c(payload, crc32c(length)))) + length + payload


@dataclass
class ManifestState:
    version: Version
    next_file: int
    number: int  # of the manifest file read


def read_current(fs: FileSystem, directory: str, num_levels: int) -> ManifestState | None:
    """Replay the manifest named by CURRENT; ``None`` for a new engine."""
    current = os.path.join(directory, CURRENT)
    if not fs.exists(current):
        return None
    name = fs.read_file(current).decode("utf-8", "replace").strip()
    if not name.startswith("MANIFEST-") or not name[9:].isdigit():
        raise CorruptionError(f"CURRENT names no manifest ({name!r})", path=current, offset=0)
    path = os.path.join(directory, name)
    if not fs.exists(path):
        raise CorruptionError(f"CURRENT names {name}, which is missing", path=current, offset=0)
    data = fs.read_file(path)
    version = Version.empty(num_levels)
    next_file = 1
    result = ScanResult(0, False)
    frames = 0
    for off, payload in scan_frames(data, path, 0, result):
        edit = VersionEdit.decode(bytes(payload), path, off)
        version = version.apply(edit)
        frames += 1
        if edit.next_file is not None:
            next_file = max(next_file, edit.next_file)
    if frames == 0:
        # CURRENT is switched only after the snapshot edit is durable: no valid frame is damage.
        raise CorruptionError("manifest has no valid snapshot edit", path=path, offset=0)
    if result.torn:
        tail = data[result.valid_end:]
        if len(tail) >= 8:
            (length,) = _U32.unpack_from(tail, 4)
            # A crash cuts a frame short (or leaves zeroed blocks); a frame that is all there
            # but fails its checksum was damaged after it was acknowledged.
            if 8 + length == len(tail) and any(tail):
                raise CorruptionError("last manifest edit fails its checksum", path=path,
                                      offset=result.valid_end)
    return ManifestState(version, next_file, int(name[9:]))


class ManifestWriter:
    """Appends durable edits to one manifest file. The caller serialises calls."""

    def __init__(self, fs: FileSystem, directory: str, number: int, snapshot: VersionEdit):
        self.fs = fs
        self.directory = directory
        self.number = number
        self.path = os.path.join(directory, manifest_name(number))
        self.file: File = fs.open(self.path, truncate=True)
        self.bytes_written = 0
        self.append(snapshot)
        fs.sync_dir(directory)
        # Only now does CURRENT point here: a crash before this line leaves the old manifest
        # in charge (the new file is an orphan, removed at the next open).
        fs.write_atomic(os.path.join(directory, CURRENT), manifest_name(number).encode() + b"\n")

    def append(self, edit: VersionEdit) -> None:
        frame = encode_frame(edit.encode())
        self.file.append(frame)
        self.file.sync()
        self.bytes_written += len(frame)

    @property
    def size(self) -> int:
        return self.file.size

    def close(self) -> None:
        self.file.close()
