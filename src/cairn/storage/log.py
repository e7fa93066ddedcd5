"""The log engine: "the world's simplest database" (DDIA ch. 3, the bash ``db_set``/``db_get``).

Writes append a checksummed frame (:mod:`cairn.storage.record`) to one file, ``log.dat``.
``get`` reads the whole file from the start and keeps the *last* value it sees for the key:
O(n) per read, with no index at all. That is the point: it is the baseline the hash index,
the LSM-tree and the B+tree are measured against, so it is kept honest, not optimised.

On-disk format: ``CAIRN-ENGINE`` marker + ``log.dat``, a sequence of frames. Recovery scans the
file once, truncates a torn tail, and fails loudly on corruption in the middle.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator

from cairn.storage.directory import claim_directory
from cairn.storage.engine import Engine, EngineStats, Op, normalize_ops
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.groupcommit import DEFAULT_COMMIT_DELAY, GroupCommit
from cairn.storage.limits import MAX_KEY_SIZE, MAX_VALUE_SIZE, check_key
from cairn.storage.record import OP_PUT, ScanResult, decode_payload, encode_frame, scan_frames

FORMAT = 1
READ_CHUNK = 1 << 20


class LogEngine(Engine):
    kind = "log"
    ordered = False

    def __init__(self, path: str, fs: FileSystem = REAL_FS, *,
                 max_key_size: int = MAX_KEY_SIZE, max_value_size: int = MAX_VALUE_SIZE,
                 commit_delay: float = DEFAULT_COMMIT_DELAY):
        super().__init__(path, fs)
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        claim_directory(fs, path, self.kind, FORMAT)
        self._file_path = os.path.join(path, "log.dat")
        self._lock = threading.Lock()
        created = not fs.exists(self._file_path)
        self._file = fs.open(self._file_path)
        if created:
            fs.sync_dir(path)  # log.dat's name must be durable before a write is acknowledged
        self._recover()
        self._stats = EngineStats(engine=self.kind)
        self._commit = GroupCommit(self._sync_log, lambda: self._file.size, commit_delay)

    def _recover(self) -> None:
        data = self._file.read_at(0, self._file.size)
        result = ScanResult(0, False)
        for _ in scan_frames(data, self._file_path, 0, result):
            pass
        if result.torn:
            self._file.truncate(result.valid_end)
            self._file.sync()

    def _sync_log(self) -> None:
        with self._lock:
            self._file.flush()
        self._file.fsync()

    def _frames(self) -> Iterator[bytes | memoryview]:
        """Every frame's payload, in order, read through the file (no cache)."""
        with self._lock:
            self._file.flush()
            size = self._file.size
        data = self._file.read_at(0, size)
        for _off, payload in scan_frames(data, self._file_path):
            yield payload

    # -- interface ----------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        check_key(key, self.max_key_size)
        found: bytes | None = None
        for payload in self._frames():
            for e in decode_payload(payload, self._file_path):
                if e.key == key:
                    found = e.value if e.op == OP_PUT else None
        self._stats.gets += 1
        self._stats.read_units += 1
        return found

    def write_batch(self, ops: Iterable[Op | tuple], *, sync: bool = False) -> None:
        self._check_open()
        batch = normalize_ops(ops, self.max_key_size, self.max_value_size)
        if not batch:
            return
        frame, _ = encode_frame(batch)
        with self._lock:
            self._check_open()
            self._file.append(frame)
            end = self._file.size
            st = self._stats
            for op in batch:
                if hasattr(op, "value"):
                    st.puts += 1
                    st.user_bytes_written += len(op.key) + len(op.value)
                else:
                    st.deletes += 1
                    st.user_bytes_written += len(op.key)
            st.disk_bytes_written += len(frame)
        if sync:
            self._commit.sync_to(end)

    def _contents(self) -> dict[bytes, bytes]:
        state: dict[bytes, bytes] = {}
        for payload in self._frames():
            for e in decode_payload(payload, self._file_path):
                if e.op == OP_PUT:
                    state[e.key] = e.value
                else:
                    state.pop(e.key, None)
        return state

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        state = self._contents()
        keys = sorted(k for k in state
                      if (start is None or k >= start) and (end is None or k < end))
        if reverse:
            keys.reverse()
        for k in keys:
            yield k, state[k]

    def flush(self) -> None:
        self._check_open()
        with self._lock:
            self._file.flush()

    def stats(self) -> EngineStats:
        state = self._contents() if not self._closed else {}
        st = self._stats
        st.keys = len(state)
        st.live_bytes = sum(len(k) + len(v) for k, v in state.items())
        st.disk_bytes = self._file.size
        st.fsyncs = self._commit.fsyncs
        st.commits = self._commit.commits
        st.extra = {"max_commits_per_fsync": self._commit.max_batch}
        return st

    def _close(self) -> None:
        with self._lock:
            try:
                self._file.sync()  # a clean shutdown leaves everything durable
            finally:
                self._file.close()
