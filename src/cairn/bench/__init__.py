"""cairn.bench: benchmarks that put cairn beside its peers in one run (docs/architecture.md).

``cairn bench storage`` (:mod:`cairn.bench.storage_cmd`) compares the storage engines of DDIA
chapter 3 with sqlite3, LMDB, RocksDB, LevelDB, diskcache and semidbm: medians of repeats,
ratios, PASS/MISS per target, ``--json`` and ``--plot``.
"""
