"""File I/O for every engine, through one small seam that tests can break on purpose.

Engines never call ``open``/``os.write``/``os.fsync`` themselves: they go through a
:class:`FileSystem`. The real one is a thin layer over ``os`` with a user-space append buffer
(a syscall per 100-byte record would dominate a Python engine's write path). The
:class:`FaultyFileSystem` in :mod:`cairn.storage.faults` overrides the four primitive calls
(``_write``, ``_pwrite``, ``_fsync``, ``_pread``) to inject torn and short writes, failing
fsyncs and simulated power loss, which is how the durability claims are tested rather than
claimed (the approach of SQLite's test VFS and LevelDB's fault-injection Env).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from cairn.storage.errors import DurabilityError

DEFAULT_BUFFER = 64 * 1024


class File:
    """An open file: buffered appends, positional reads and writes, explicit durability.

    ``append`` returns the offset at which the data starts; ``read_at`` sees appended data even
    while it is still in the user-space buffer. Nothing is durable until :meth:`sync` returns.
    """

    __slots__ = ("_buf", "_buffer_limit", "_closed", "_flushed", "_fs", "_size", "fd", "path")

    def __init__(self, fs: FileSystem, path: str, fd: int, buffer_limit: int = DEFAULT_BUFFER):
        self._fs = fs
        self.path = path
        self.fd = fd
        self._buf = bytearray()
        self._buffer_limit = buffer_limit
        self._flushed = os.fstat(fd).st_size
        self._size = self._flushed
        self._closed = False

    @property
    def size(self) -> int:
        """Logical size, including bytes still in the append buffer."""
        return self._size

    def append(self, data: bytes) -> int:
        offset = self._size
        self._buf += data
        self._size += len(data)
        if len(self._buf) >= self._buffer_limit:
            self.flush()
        return offset

    def write_at(self, offset: int, data: bytes) -> None:
        """Positional write (pages). Flushes pending appends first to keep ordering simple."""
        if self._buf:
            self.flush()
        self._fs._pwrite_all(self, data, offset)
        end = offset + len(data)
        if end > self._size:
            self._size = self._flushed = end

    def read_at(self, offset: int, n: int) -> bytes:
        """Read up to ``n`` bytes at ``offset``; fewer only at end of file."""
        if offset + n > self._flushed and self._buf:
            self.flush()
        return self._fs._pread_all(self, n, offset)

    def flush(self) -> None:
        """Hand buffered appends to the OS (not durable yet)."""
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            self._fs._append_all(self, data, self._flushed)
            self._flushed += len(data)

    def sync(self) -> None:
        """Flush and fsync. Raises :class:`DurabilityError` when the OS reports failure."""
        self.flush()
        self.fsync()

    def fsync(self) -> None:
        """fsync what was flushed, without touching the append buffer: group commit flushes
        under the engine's write lock, then fsyncs outside it so writers keep appending."""
        try:
            self._fs._fsync(self)
        except OSError as exc:
            raise DurabilityError(
                exc.errno or errno.EIO, f"fsync failed on {self.path}: {exc}"
            ) from exc

    def truncate(self, size: int) -> None:
        self.flush()
        self._fs._truncate(self, size)
        self._size = self._flushed = size

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            os.close(self.fd)

    def drop(self) -> None:
        """Close without flushing: the process died, its user-space buffer with it
        (the power-cut model, :mod:`cairn.storage.faults`)."""
        if not self._closed:
            self._closed = True
            self._buf.clear()
            os.close(self.fd)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileSystem:
    """The real file system. Subclassed by :class:`cairn.storage.faults.FaultyFileSystem`."""

    buffer_limit = DEFAULT_BUFFER

    # -- opening and naming ------------------------------------------------------------------
    def open(self, path: str, *, create: bool = True, truncate: bool = False) -> File:
        flags = os.O_RDWR
        if create:
            flags |= os.O_CREAT
        if truncate:
            flags |= os.O_TRUNC
        fd = os.open(path, flags, 0o644)
        return File(self, path, fd, self.buffer_limit)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def makedirs_durable(self, path: str) -> None:
        """:meth:`makedirs`, then fsync the parent of each directory it created, top down: a
        new name survives a power cut only once the directory holding it is fsynced."""
        missing = []
        p = os.path.abspath(path)
        while not self.exists(p):
            missing.append(p)
            p = os.path.dirname(p)
        self.makedirs(path)
        for d in reversed(missing):
            self.sync_dir(os.path.dirname(d))

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    def rename(self, src: str, dst: str) -> None:
        """Atomic replace (POSIX rename); call :meth:`sync_dir` to make it durable."""
        os.replace(src, dst)

    def file_size(self, path: str) -> int:
        return os.path.getsize(path)

    def sync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            self._fsync_fd(fd, path)
        except OSError as exc:
            raise DurabilityError(exc.errno or errno.EIO, f"fsync failed on {path}: {exc}") from exc
        finally:
            os.close(fd)

    def read_file(self, path: str) -> bytes:
        with self.open(path, create=False) as f:
            return f.read_at(0, f.size)

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write a small file so that readers see the old or the new contents, never a mix."""
        tmp = path + ".tmp"
        with self.open(tmp, truncate=True) as f:
            f.append(data)
            f.sync()
        self.rename(tmp, path)
        self.sync_dir(os.path.dirname(path) or ".")

    def walk_files(self, path: str) -> Iterator[str]:
        for root, _dirs, files in os.walk(path):
            for name in files:
                yield os.path.join(root, name)

    # -- primitives (the fault-injection seam) ----------------------------------------------
    def _write(self, f: File, data: bytes | memoryview, offset: int) -> int:
        return os.pwrite(f.fd, data, offset)

    def _pwrite(self, f: File, data: bytes | memoryview, offset: int) -> int:
        return os.pwrite(f.fd, data, offset)

    def _pread(self, f: File, n: int, offset: int) -> bytes:
        return os.pread(f.fd, n, offset)

    def _fsync(self, f: File) -> None:
        self._fsync_fd(f.fd, f.path)

    def _fsync_fd(self, fd: int, path: str) -> None:
        os.fsync(fd)

    def _truncate(self, f: File, size: int) -> None:
        os.ftruncate(f.fd, size)

    # -- loops that turn short writes/reads into complete ones ---------------------------------
    def _append_all(self, f: File, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            n = self._write(f, view, offset)
            if n <= 0:
                raise OSError(errno.EIO, f"write returned {n} on {f.path}")
            view = view[n:]
            offset += n

    def _pwrite_all(self, f: File, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            n = self._pwrite(f, view, offset)
            if n <= 0:
                raise OSError(errno.EIO, f"write returned {n} on {f.path}")
            view = view[n:]
            offset += n

    def _pread_all(self, f: File, n: int, offset: int) -> bytes:
        data = self._pread(f, n, offset)
        if len(data) == n or not data:
            return data
        parts = [data]
        got = len(data)
        while got < n:
            more = self._pread(f, n - got, offset + got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)


REAL_FS = FileSystem()
