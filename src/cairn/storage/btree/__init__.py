"""The B+tree storage engine (DDIA ch. 3): fixed-size checksummed pages in ``tree.dat``, a
bounded buffer pool with clock eviction, splits/merges/redistribution, leaf sibling links for
range scans, overflow chains for large values, and a redo WAL with journaled checkpoints.

See docs/storage.md ("The btree engine") for the design, the byte layout and the measured numbers.
"""

from cairn.storage.btree.engine import BTreeEngine

__all__ = ["BTreeEngine"]
