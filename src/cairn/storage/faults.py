"""A fault-injecting file system for durability tests (LevelDB's FaultInjectionEnv, SQLite's
test VFS).

It is a :class:`~cairn.storage.fileio.FileSystem` whose primitives can be told to misbehave:

* ``torn_write``: a write reaches the file only partly, then the process "dies"
  (:class:`SimulatedCrash`; every later call on this file system dies too, including the
  engine's background threads), as a power cut in the middle of a ``write``;
* ``short_write``: ``write`` returns fewer bytes than asked, as POSIX allows (the engine must
  loop, not lose the tail);
* ``fsync_error``: ``fsync`` fails with EIO (the engine must not acknowledge the write);
* ``write_error``: ``write`` fails with ENOSPC (disk full).

It also models the OS page cache: :meth:`FaultyFileSystem.crash` throws away every write that
was not followed by an ``fsync`` of its file (optionally keeping a random prefix of them, since
the kernel writes back some dirty pages on its own), which is what a power loss does and what a
plain ``SIGKILL`` cannot show. Bit flips in closed files are made with :func:`flip_bit`.
"""

from __future__ import annotations

import errno
import os
import random
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


@dataclass
class FaultyFileSystem(FileSystem):
    faults: list[Fault] = field(default_factory=list)
    crashed: bool = False
    writes: int = 0
    fsyncs: int = 0
    buffer_limit: int = 0  # unbuffered by default: every append reaches the seam at once
    _pending: dict[str, list[_Pending]] = field(default_factory=dict)
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

    # -- tracked primitives -----------------------------------------------------------------
    def _remember(self, f: File, offset: int, n: int) -> None:
        size = os.fstat(f.fd).st_size
        old = os.pread(f.fd, n, offset) if offset < size else b""
        self._pending.setdefault(f.path, []).append(_Pending(offset, old, size))

    def _write(self, f: File, data: bytes | memoryview, offset: int) -> int:
        return self._pwrite(f, data, offset)

    def _pwrite(self, f: File, data: bytes | memoryview, offset: int) -> int:
        with self._lock:
            self._alive()
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
            self._alive()
            self.fsyncs += 1
            if self._fire("fsync_error", f.path):
                # Like Linux after an I/O error: the dirty pages may be dropped, so the
                # unsynced writes are really gone.
                self._revert(f.path, keep=0)
                raise OSError(errno.EIO, f"injected: fsync failed ({f.path})")
            os.fsync(f.fd)
            self._pending.pop(f.path, None)

    def _fsync_fd(self, fd: int, path: str) -> None:
        self._alive()
        os.fsync(fd)

    def _truncate(self, f: File, size: int) -> None:
        with self._lock:
            self._alive()
            cur = os.fstat(f.fd).st_size
            if size < cur:
                self._remember(f, size, cur - size)
            else:
                self._pending.setdefault(f.path, []).append(_Pending(cur, b"", cur))
            os.ftruncate(f.fd, size)

    def remove(self, path: str) -> None:
        self._alive()
        self._pending.pop(path, None)
        super().remove(path)

    def rename(self, src: str, dst: str) -> None:
        self._alive()
        with self._lock:
            pending = self._pending.pop(src, None)
            self._pending.pop(dst, None)
            if pending:
                self._pending[dst] = pending
        super().rename(src, dst)

    def open(self, path: str, *, create: bool = True, truncate: bool = False) -> File:
        self._alive()
        if truncate and os.path.exists(path):
            size = os.path.getsize(path)
            with open(path, "rb") as raw:
                old = raw.read()
            self._pending.setdefault(path, []).append(_Pending(0, old, size))
        return super().open(path, create=create, truncate=truncate)

    # -- power loss -------------------------------------------------------------------------
    def _revert(self, path: str, keep: int) -> None:
        """Undo the unsynced writes to ``path`` after the first ``keep`` of them."""
        pending = self._pending.pop(path, [])
        if not os.path.exists(path):
            return
        with open(path, "r+b") as raw:
            for p in reversed(pending[keep:]):
                raw.seek(p.offset)
                raw.write(p.old)
                raw.truncate(p.old_size)

    def crash(self, seed: int | None = None) -> None:
        """Simulate power loss: unsynced writes are lost (a random prefix may survive)."""
        rng = random.Random(seed)
        with self._lock:
            self.crashed = True
            for path in list(self._pending):
                n = len(self._pending[path])
                self._revert(path, keep=rng.randint(0, n) if seed is not None else 0)

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
