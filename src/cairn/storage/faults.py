"""A fault-injecting file system and power-cut model for durability tests (SQLite's test VFS,
LevelDB's FaultInjectionEnv, LazyFS).

It is a :class:`~cairn.storage.fileio.FileSystem` whose primitives can be told to misbehave:

* ``torn_write``: a write reaches the file only partly, then the process "dies"
  (:class:`SimulatedCrash`; every later call on this file system dies too, including the
  engine's background threads), as a power cut in the middle of a ``write``;
* ``short_write``: ``write`` returns fewer bytes than asked, as POSIX allows (the engine must
  loop, not lose the tail);
* ``fsync_error``: ``fsync`` fails with EIO (the engine must not acknowledge the write);
* ``write_error``: ``write`` fails with ENOSPC (disk full).

**The power-cut model.** It remembers everything the OS would still hold in memory: every
write to a file not yet followed by an ``fsync`` of that file, and every directory entry
(a file created, a directory made, a rename, an unlink) not yet followed by an ``fsync`` of
the directory that holds it: POSIX makes a new name durable only then, and ext4 or XFS after
a power cut really do show a file whose data was fsynced under no name at all. A power cut
(:meth:`FaultyFileSystem.crash`, or ``cut_at``: the N-th primitive call cuts the power) then
puts the files back as a disk would show them after reboot:

* ``crash()`` (no seed): every unsynced write and directory entry is lost;
* ``crash(seed)``: a seeded subset survives, in an order the kernel could have written it
  back: per file a prefix of its unsynced writes (the next one possibly torn: only its first
  bytes reached the disk, a torn last page), and per directory a prefix of its unsynced
  entries (a journaling file system commits metadata in order).

A plain ``SIGKILL`` cannot show any of this: the page cache survives a process death. The
model also names the *call site* of every fsync (``record_sites``) and can turn chosen call
sites into no-ops (``skip_sites``), which is how ``cairn storage fsync-check`` proves that the
power-cut sweeps notice each missing fsync (:mod:`cairn.storage.powercut`). Bit flips in
closed files are made with :func:`flip_bit`.
"""

from __future__ import annotations

import errno
import linecache
import os
import random
import shutil
import sys
import threading
from dataclasses import dataclass, field

from cairn.storage.fileio import File, FileSystem


class SimulatedCrash(BaseException):  # a crash, not an error to handle
    """The simulated process died. BaseException so that engine code cannot swallow it."""


@dataclass
class Fault:
    """One rule: ``kind`` fires on the ``after``-th (0-based) matching call, ``times`` times."""

    kind: str  # torn_write | short_write | fsync_error | write_error
    path_contains: str = ""
    after: int = 0
    times: int = 1
    keep: int | None = None  # torn_write: bytes of the write that reach the file (default half)
    seen: int = 0
    fired: int = 0

    def matches(self, kind: str, path: str) -> bool:
        if kind != self.kind or self.path_contains not in path or self.fired >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        self.fired += 1
        return True


@dataclass
class _Pending:
    """A write not yet covered by an fsync: enough to undo it."""

    offset: int
    old: bytes  # previous contents of the overwritten range
    old_size: int  # file size before the write
    length: int = 0  # bytes written (a torn write keeps a prefix of them)


@dataclass
class _DirOp:
    """A directory entry changed but not yet made durable by an fsync of its directory."""

    kind: str  # create | mkdir | rename | unlink
    path: str  # the entry (for rename: the destination)
    src: str = ""  # rename: where it came from
    saved: bytes | None = None  # unlink, rename over a file: the durable image it replaced
    dirs: set[str] = field(default_factory=set)  # directories still to be fsynced


# Frames that only carry an fsync down to the seam: a call site is the first frame above them.
_PLUMBING = {"sync", "fsync", "sync_dir", "_fsync", "_fsync_fd", "_site", "_dir_synced",
             "_lead", "sync_to"}


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _rel(filename: str) -> str:
    marker = os.sep + "cairn" + os.sep
    i = filename.rfind(marker)
    return filename[i + len(marker):] if i >= 0 else os.path.basename(filename)


@dataclass
class FaultyFileSystem(FileSystem):
    faults: list[Fault] = field(default_factory=list)
    crashed: bool = False
    writes: int = 0
    fsyncs: int = 0
    buffer_limit: int = 0  # unbuffered by default: every append reaches the seam at once
    cut_at: int | None = None  # cut the power at this primitive call (0-based), before it runs
    cut_seed: int | None = None  # crash(cut_seed) at the cut: None loses everything unsynced
    ops: int = 0  # primitive calls so far (writes, fsyncs, creates, renames, unlinks, ...)
    sync_points: list[int] = field(default_factory=list)  # op numbers of the fsync calls
    record_sites: dict[str, int] | None = None  # call site -> fsyncs from there (when a dict)
    skip_sites: set[str] = field(default_factory=set)  # call sites whose fsync is a no-op
    skipped_points: list[int] = field(default_factory=list)  # op numbers of skipped fsyncs
    _pending: dict[str, list[_Pending]] = field(default_factory=dict)
    _dirops: list[_DirOp] = field(default_factory=list)
    _files: list[File] = field(default_factory=list)
    _cut_done: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def add(self, kind: str, path_contains: str = "", after: int = 0, times: int = 1,
            keep: int | None = None) -> Fault:
        fault = Fault(kind, path_contains, after, times, keep)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _fire(self, kind: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(kind, path):
                    return fault
        return None

    def _alive(self) -> None:
        if self.crashed:
            raise SimulatedCrash("the simulated process has crashed")

    def _tick(self, sync: bool = False) -> None:
        """One primitive call (lock held): die if crashed, cut the power if it is time."""
        self._alive()
        n = self.ops
        self.ops += 1
        if self.cut_at is not None and n >= self.cut_at:
            self.crash(self.cut_seed)
            raise SimulatedCrash(f"power cut at primitive call {n}")
        if sync:
            self.sync_points.append(n)

    def _site(self) -> str:
        """The engine code that asked for this fsync, as ``module.py:function `line`
        [#n]`` (the n-th line of that text in the function): stable while others edit the
        file, unlike a line number."""
        frame = sys._getframe(1)
        while frame is not None and (frame.f_code.co_name in _PLUMBING
                                     or frame.f_code.co_filename == __file__):
            frame = frame.f_back
        if frame is None:
            return "?"
        code, lineno = frame.f_code, frame.f_lineno
        lines = linecache.getlines(code.co_filename)
        text = lines[lineno - 1].split("  #")[0].strip() if 0 < lineno <= len(lines) else "?"
        nth = 1 + sum(1 for line in lines[code.co_firstlineno - 1:lineno - 1]
                      if line.split("  #")[0].strip() == text)
        return (f"{_rel(code.co_filename)}:{code.co_name} `{text}`"
                + (f" #{nth}" if nth > 1 else ""))

    def _skip(self, what: str) -> bool:
        """Note the call site of an fsync; True if that site's fsync is switched off."""
        if self.record_sites is None and not self.skip_sites:
            return False
        site = f"{what} {self._site()}"
        if self.record_sites is not None:
            self.record_sites[site] = self.record_sites.get(site, 0) + 1
        if site in self.skip_sites:
            self.skipped_points.append(self.ops - 1)
            return True
        return False

    # -- tracked primitives -----------------------------------------------------------------
    def _remember(self, f: File, offset: int, n: int) -> None:
        size = os.fstat(f.fd).st_size
        old = os.pread(f.fd, n, offset) if offset < size else b""
        self._pending.setdefault(f.path, []).append(_Pending(offset, old, size, n))

    def _write(self, f: File, data: bytes | memoryview, offset: int) -> int:
        return self._pwrite(f, data, offset)

    def _pwrite(self, f: File, data: bytes | memoryview, offset: int) -> int:
        with self._lock:
            self._tick()
            self.writes += 1
            if self._fire("write_error", f.path):
                raise OSError(errno.ENOSPC, f"injected: no space left on device ({f.path})")
            torn = self._fire("torn_write", f.path)
            if torn is not None:
                keep = len(data) // 2 if torn.keep is None else min(torn.keep, len(data))
                self._remember(f, offset, keep)
                os.pwrite(f.fd, data[:keep], offset)
                self.crashed = True
                raise SimulatedCrash(f"injected torn write: {keep}/{len(data)} bytes of "
                                     f"{f.path} @ {offset}")
            if self._fire("short_write", f.path) and len(data) > 1:
                data = data[: max(1, len(data) // 3)]
            self._remember(f, offset, len(data))
            return os.pwrite(f.fd, data, offset)

    def _pread(self, f: File, n: int, offset: int) -> bytes:
        self._alive()
        return os.pread(f.fd, n, offset)

    def _fsync(self, f: File) -> None:
        with self._lock:
            self._tick(sync=True)
            self.fsyncs += 1
            if self._fire("fsync_error", f.path):
                # Like Linux after an I/O error: the dirty pages may be dropped, so the
                # unsynced writes are really gone.
                self._revert(f.path, keep=0)
                raise OSError(errno.EIO, f"injected: fsync failed ({f.path})")
            if self._skip("fsync"):
                return
            os.fsync(f.fd)
            self._pending.pop(f.path, None)

    def sync_dir(self, path: str) -> None:
        with self._lock:
            self._tick(sync=True)
            if self._skip("dirsync"):
                return
            super().sync_dir(path)
            self._dir_synced(_norm(path))

    def _dir_synced(self, d: str) -> None:
        for op in self._dirops:
            op.dirs.discard(d)
        self._dirops = [op for op in self._dirops if op.dirs]

    def _truncate(self, f: File, size: int) -> None:
        with self._lock:
            self._tick()
            cur = os.fstat(f.fd).st_size
            if size < cur:
                self._remember(f, size, cur - size)
            else:
                self._pending.setdefault(f.path, []).append(_Pending(cur, b"", cur))
            os.ftruncate(f.fd, size)

    def _durable_image(self, path: str) -> bytes:
        """What a disk holds for ``path`` now: its bytes with the unsynced writes undone."""
        with open(path, "rb") as raw:
            data = bytearray(raw.read())
        for p in reversed(self._pending.get(path, [])):
            data[p.offset:p.offset + len(p.old)] = p.old
            del data[p.old_size:]
            data.extend(bytes(max(0, p.old_size - len(data))))
        return bytes(data)

    def remove(self, path: str) -> None:
        with self._lock:
            self._tick()
            if os.path.isfile(path):
                saved = self._durable_image(path)
                self._pending.pop(path, None)
                super().remove(path)
                self._dirops.append(_DirOp("unlink", _norm(path), saved=saved,
                                           dirs={os.path.dirname(_norm(path))}))

    def rename(self, src: str, dst: str) -> None:
        with self._lock:
            self._tick()
            saved = self._durable_image(dst) if os.path.isfile(dst) else None
            pending = self._pending.pop(src, None)
            self._pending.pop(dst, None)
            super().rename(src, dst)
            if pending:
                self._pending[dst] = pending
            s, d = _norm(src), _norm(dst)
            self._dirops.append(_DirOp("rename", d, src=s, saved=saved,
                                       dirs={os.path.dirname(s), os.path.dirname(d)}))

    def makedirs(self, path: str) -> None:
        with self._lock:
            self._tick()
            missing = []
            p = _norm(path)
            while not os.path.exists(p):
                missing.append(p)
                p = os.path.dirname(p)
            super().makedirs(path)
            for d in reversed(missing):
                self._dirops.append(_DirOp("mkdir", d, dirs={os.path.dirname(d)}))

    def open(self, path: str, *, create: bool = True, truncate: bool = False) -> File:
        with self._lock:
            self._tick()
            existed = os.path.exists(path)
            if truncate and existed:
                size = os.path.getsize(path)
                with open(path, "rb") as raw:
                    old = raw.read()
                self._pending.setdefault(path, []).append(_Pending(0, old, size))
            f = super().open(path, create=create, truncate=truncate)
            if not existed:
                self._dirops.append(_DirOp("create", _norm(path),
                                           dirs={os.path.dirname(_norm(path))}))
            if len(self._files) > 256:
                self._files = [x for x in self._files if not x.closed]
            self._files.append(f)
            return f

    # -- power loss -------------------------------------------------------------------------
    def _revert(self, path: str, keep: int, torn: int = 0) -> None:
        """Undo the unsynced writes to ``path`` after the first ``keep`` of them; of the
        next one, ``torn`` leading bytes stay (a torn write)."""
        pending = self._pending.pop(path, [])
        if not os.path.exists(path):
            return
        with open(path, "r+b") as raw:
            for i in range(len(pending) - 1, keep - 1, -1):
                p = pending[i]
                part = b""
                if i == keep and torn:
                    raw.seek(p.offset)
                    part = raw.read(min(torn, p.length))
                raw.seek(p.offset)
                raw.write(p.old)
                raw.truncate(p.old_size)
                if part:
                    raw.seek(p.offset)
                    raw.write(part)

    def _undo(self, op: _DirOp) -> None:
        if op.kind == "create":
            if os.path.isfile(op.path):
                os.remove(op.path)
        elif op.kind == "mkdir":
            shutil.rmtree(op.path, ignore_errors=True)
        elif op.kind == "unlink":
            if op.saved is not None and os.path.isdir(os.path.dirname(op.path)):
                with open(op.path, "wb") as raw:
                    raw.write(op.saved)
        elif op.kind == "rename":
            if os.path.exists(op.path) and os.path.isdir(os.path.dirname(op.src)):
                os.replace(op.path, op.src)
            if op.saved is not None and os.path.isdir(os.path.dirname(op.path)):
                with open(op.path, "wb") as raw:
                    raw.write(op.saved)

    def crash(self, seed: int | None = None) -> None:
        """Cut the power: unsynced writes and directory entries are lost; with a ``seed``, a
        random subset of them survives in a legal order (see the module docstring)."""
        rng = random.Random(seed)
        with self._lock:
            self.crashed = True
            if self._cut_done:
                return
            self._cut_done = True
            for f in self._files:
                f.drop()  # the process is gone: nothing buffered reaches the OS any more
            self._files.clear()
            for path in list(self._pending):
                n = len(self._pending[path])
                if seed is None:
                    self._revert(path, keep=0)
                else:
                    keep = rng.randint(0, n)
                    torn = 0
                    if keep < n and rng.random() < 0.5:
                        p = self._pending[path][keep]
                        torn = rng.randrange(0, max(1, p.length))
                    self._revert(path, keep=keep, torn=torn)
            ops = self._dirops
            if seed is not None:
                # Per directory a prefix of its entries survives (metadata is journaled in
                # order); an entry spanning two directories survives only if both kept it.
                cut = {d: rng.randint(0, sum(1 for op in ops if d in op.dirs))
                       for d in {d for op in ops for d in op.dirs}}
                seen: dict[str, int] = {}
                lost = []
                for op in ops:
                    kept = True
                    for d in sorted(op.dirs):
                        seen[d] = seen.get(d, 0) + 1
                        kept &= seen[d] <= cut[d]
                    if not kept:
                        lost.append(op)
                ops = lost
            for op in reversed(ops):
                self._undo(op)
            self._dirops = []

    def unsynced(self) -> tuple[int, int]:
        """(files with unsynced writes, unsynced directory entries): what a cut would lose."""
        with self._lock:
            return len(self._pending), len(self._dirops)

    def reset(self) -> FaultyFileSystem:
        """A fresh, healthy file system for reopening after a crash (same rules cleared)."""
        return FaultyFileSystem()


def flip_bit(path: str, offset: int, bit: int = 0) -> None:
    """Flip one bit of a file in place (bit rot)."""
    with open(path, "r+b") as raw:
        raw.seek(offset)
        byte = raw.read(1)
        if not byte:
            raise ValueError(f"offset {offset} is past the end of {path}")
        raw.seek(offset)
        raw.write(bytes([byte[0] ^ (1 << bit)]))
