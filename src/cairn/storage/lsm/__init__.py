"""The LSM-tree storage engine (DDIA ch. 3): memtable + WAL, SSTables with sparse indexes,
block compression and Bloom filters, a manifest of live tables, leveled or size-tiered
compaction in the background. See :mod:`cairn.storage.lsm.engine` and docs/storage.md
("The lsm engine")."""

from cairn.storage.lsm.engine import LSMEngine

__all__ = ["LSMEngine"]
