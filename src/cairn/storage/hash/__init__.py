"""The ``hash`` engine: Bitcask, the hash-indexed log of DDIA ch. 3.

Append-only segment files of CRC-checked records, an in-memory key directory (key -> file,
offset, length), tombstones, segment rollover, background merge of segments with hint files
for fast restart, and recovery that stops cleanly at a torn tail.
See docs/storage.md ("The hash engine").

Modules: :mod:`.segment` (record format, segment scan), :mod:`.keydir` (key directory and
recovery), :mod:`.hint` (hint files), :mod:`.merge` (merge and its policy), :mod:`.engine`.
"""

from cairn.storage.hash.engine import HashEngine

__all__ = ["HashEngine"]
