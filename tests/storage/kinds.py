"""The engine kinds the shared contract, model, fault and crash tests run against.

Every engine in cairn.storage.ENGINES must be listed here once it exists.

SMALL_OPTIONS: per kind, constructor options that make the engine's internal machinery (segment
rollover, memtable flushes, compaction, page splits, merges) happen with the small data sets of
the model and fault tests. Engines must accept them as keyword options.
"""

KINDS = ["log", "btree", "lsm", "hash"]
ORDERED_KINDS: list[str] = ["btree", "lsm"]
# Engines whose stats().keys is an estimate (documented in their docs/storage.md).
ESTIMATED_KEY_COUNT: set[str] = set()
SMALL_OPTIONS: dict[str, dict[str, object]] = {
    "lsm": {"memtable_bytes": 4096, "block_size": 256, "target_file_size": 2048,
            "level_base_bytes": 8192, "l0_compaction_trigger": 2, "background": False},
    "log": {},
    "hash": {"segment_size": 4096, "merge_min_dead_bytes": 0, "merge_max_segments": 4,
             "merge_interval": 0.01},
    "btree": {"page_size": 1024, "pool_bytes": 16 * 1024, "wal_checkpoint_bytes": 16 * 1024},
}


def small(kind: str) -> dict[str, object]:
    return dict(SMALL_OPTIONS.get(kind, {}))
